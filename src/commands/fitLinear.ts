/** `convfeat fit-linear`: train a linear SVM or softmax on cached embeddings and write the classifier file. */
import * as fs from 'fs';
import * as path from 'path';
import type { Argv, CommandModule } from 'yargs';
import { removeDeadTemps } from '../util/atomic';
import { UsageError } from '../util/errors';
import { fitFromCache } from '../linear/fitCache';
import { formatCSearch } from '../linear/search';
import { saveClassifier } from '../linear';
import { positiveNumber, integerInRange } from '../util/validate';
import { handler, logger, printJson, say, setInterruptNote } from './run';
import { readExcludeFile } from '../audit/csv';
import { withSolverOptions, type SolverArgs } from './options';

export interface FitLinearArgs extends SolverArgs {
  cache: string;
  out: string;
  folds: number;
  'class-weight': 'none' | 'balanced';
  seed: number;
  threads?: number;
  'max-iter'?: number;
  tol?: number;
  val: boolean;
  json?: boolean;
  quiet?: boolean;
  exclude?: string;
}

export const fitLinearCommand: CommandModule<object, FitLinearArgs> = {
  command: 'fit-linear',
  describe: 'Train a linear classifier (SVM or softmax) on a cache and write it as JSON',
  builder: (y: Argv) =>
    withSolverOptions(
      y
        .option('cache', { type: 'string', demandOption: true, describe: 'Cache directory written by extract' })
        .option('out', { type: 'string', demandOption: true, describe: 'Classifier file to write (JSON)' }),
    )
      .option('folds', {
        type: 'number',
        default: 5,
        describe: 'k for cross-validation when the cache has no val split',
      })
      .option('class-weight', { choices: ['none', 'balanced'] as const, default: 'none' as const })
      .option('seed', { type: 'number', default: 1 })
      .option('threads', {
        type: 'number',
        describe: 'Worker threads (default: in-process for small data, else one per core)',
      })
      .option('max-iter', { type: 'number' })
      .option('tol', { type: 'number' })
      .option('val', {
        type: 'boolean',
        default: true,
        describe: 'Use the val split for C and calibration (--no-val: C by cross-validation on train)',
      })
      .option('exclude', {
        type: 'string',
        describe: 'CSV of images to leave out (relPath or path column; e.g. issues.csv from convfeat audit --report)',
      })
      .option('json', { type: 'boolean', describe: 'Print a JSON summary' })
      .option('quiet', { type: 'boolean' }) as unknown as Argv<FitLinearArgs>,
  handler: handler(async (args: FitLinearArgs) => {
    setInterruptNote('nothing-written');
    const log = logger(args);
    if (fs.existsSync(args.out) && fs.statSync(args.out).isDirectory()) {
      throw new UsageError(
        `--out ${args.out} is a directory; give a file name such as ${path.join(args.out, 'clf.json')}.`,
      );
    }
    removeDeadTemps(args.out);
    if (args.C !== undefined) positiveNumber('--C', args.C);
    integerInRange('--folds', args.folds, 2, 100);
    integerInRange('--seed', args.seed, 0, 2 ** 31 - 1);
    const result = await fitFromCache(args.cache, {
      solver: args.solver,
      C: args.C ?? 'auto',
      scale: args.scale,
      folds: args.folds,
      classWeight: args['class-weight'],
      seed: args.seed,
      ...(args.threads !== undefined ? { threads: integerInRange('--threads', args.threads, 1, 256) } : {}),
      ...(args['max-iter'] !== undefined ? { maxIter: integerInRange('--max-iter', args['max-iter'], 1, 1e7) } : {}),
      ...(args.tol !== undefined ? { tol: positiveNumber('--tol', args.tol) } : {}),
      useVal: args.val,
      ...(args.exclude !== undefined ? { exclude: readExcludeFile(args.exclude) } : {}),
    });
    const clf = result.classifier;
    saveClassifier(args.out, clf);
    const summary = {
      classifier: args.out,
      solver: clf.solver,
      C: clf.C,
      cSelection: result.cSelection,
      scale: args.scale,
      classes: clf.classes,
      dim: clf.dim,
      trainSize: result.trainSize,
      valSize: result.valSize,
      trainAccuracy: result.trainAccuracy,
      valAccuracy: result.valAccuracy,
      converged: clf.converged,
      backbone: clf.backbone,
      cSearch: clf.cSearch,
      seconds: result.seconds,
    };
    if (!clf.converged)
      log(
        'warning: the solver stopped at its iteration limit before reaching its tolerance; raise --max-iter or lower C.',
      );
    if (args.json) printJson(summary);
    else {
      const pct = (v: number | null): string => (v === null ? '-' : `${(100 * v).toFixed(2)} %`);
      say(
        args,
        `${clf.solver} on ${result.trainSize} × ${clf.dim} (${clf.classes.length} classes), C = ${clf.C.toPrecision(3)} (${result.cSelection === 'fixed' ? 'fixed' : result.cSelection === 'val' ? `chosen on val, ${result.valSize} images` : 'chosen by cross-validation'})\n` +
          `train accuracy ${pct(result.trainAccuracy)}, val accuracy ${pct(result.valAccuracy)}, ${result.seconds.toFixed(2)} s\n` +
          (clf.cSearch ? `${formatCSearch(clf.cSearch)}\n` : '') +
          `wrote ${args.out}\n`,
      );
    }
  }),
};
