/** `convfeat advise`: a learning curve on the cache and whether more data or fine-tuning is likely to pay off. */
import type { Argv, CommandModule } from 'yargs';
import { advise } from '../report/advise';
import { formatAdvice, writeAdvicePlot } from '../report/adviceChart';
import { integerInRange, positiveNumber } from '../util/validate';
import { UsageError } from '../util/errors';
import { handler, printJson, setInterruptNote } from './run';
import { withSolverOptions, type SolverArgs } from './options';

interface AdviseArgs extends SolverArgs {
  cache: string;
  seeds: number;
  fractions: number[];
  plot?: string;
  json?: boolean;
}

/** "0.1,0.5" and ["0.1", "0.5"] → [0.1, 0.5]; a word that is not a number is refused, named. */
export function numberList(values: Array<string | number>): number[] {
  return values
    .flatMap((v) => String(v).split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      const n = Number(s);
      if (!Number.isFinite(n))
        throw new UsageError(`Expected --fractions to be numbers such as 0.1,0.5,1 but received ${JSON.stringify(s)}`);
      return n;
    });
}

export const adviseCommand: CommandModule<object, AdviseArgs> = {
  command: 'advise',
  describe: 'Learning curve (accuracy vs training-set size) and advice: more data, fine-tuning, or neither',
  builder: (y: Argv) =>
    withSolverOptions(y.option('cache', { type: 'string', demandOption: true }))
      .option('seeds', { type: 'number', default: 3 })
      // Strings, split on commas here: `--fractions 0.1,0.5` and `--fractions 0.1 0.5` both work (a number type
      // turned "0.1,0.5" into NaN before any check could name it).
      .option('fractions', {
        type: 'string',
        array: true,
        default: ['0.05', '0.1', '0.2', '0.5', '1'],
        coerce: numberList,
      })
      .option('plot', { type: 'string', describe: 'Write the learning curve with error bars (.png or .svg)' })
      .option('json', { type: 'boolean' }) as unknown as Argv<AdviseArgs>,
  handler: handler(async (args: AdviseArgs) => {
    setInterruptNote('nothing-written');
    integerInRange('--seeds', args.seeds, 1, 100);
    if (args.plot !== undefined && !/\.(png|svg)$/i.test(args.plot))
      throw new UsageError(`Expected --plot to name a .png or .svg file but received ${JSON.stringify(args.plot)}`);
    args.fractions.forEach((f, i) => positiveNumber(`--fractions[${i}]`, f));
    const result = await advise(args.cache, {
      solver: args.solver,
      scale: args.scale,
      seeds: args.seeds,
      fractions: args.fractions,
      ...(args.C !== undefined ? { C: positiveNumber('--C', args.C) } : {}),
    });
    // The curve first: it took minutes, and an unwritable --plot must not lose it.
    if (args.json) printJson(result);
    else process.stdout.write(`${formatAdvice(result)}\n`);
    if (args.plot) {
      await writeAdvicePlot(args.plot, result);
      if (!args.json) process.stdout.write(`plot: ${args.plot}\n`);
    }
  }),
};
