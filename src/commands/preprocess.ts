/** `convfeat preprocess IMAGE --model NAME --out x.npy`: the exact input tensor, to compare with a Python pipeline. */
import * as fs from 'fs';
import * as path from 'path';
import type { Argv, CommandModule } from 'yargs';
import { prepareBackbone } from '../backbone/load';
import { preprocessDetailed } from '../preprocess';
import { outputSize } from '../preprocess/spec';
import { removeDeadTemps } from '../util/atomic';
import { ensureParentDir } from '../util/dirs';
import { ConvfeatError, UsageError } from '../util/errors';
import { writeNpySync } from '../util/npy';
import { checkBackboneArgs, withBackboneOptions, type BackboneArgs } from './backboneOptions';
import { handler, logger, printJson, say, setInterruptNote } from './run';

interface PreprocessArgs extends BackboneArgs {
  image: string;
  out: string;
  json?: boolean;
  quiet?: boolean;
}

export const preprocessCommand: CommandModule<object, PreprocessArgs> = {
  command: 'preprocess <image>',
  describe: "Write the model's exact float32 input tensor (1×3×H×W) for one image as .npy",
  builder: (y: Argv) =>
    withBackboneOptions(
      y
        .positional('image', { type: 'string', demandOption: true })
        .option('out', { type: 'string', demandOption: true, describe: 'Output .npy file' })
        .option('json', { type: 'boolean' })
        .option('quiet', { type: 'boolean' }),
      { modelRequired: true },
    ) as unknown as Argv<PreprocessArgs>,
  handler: handler(async (args: PreprocessArgs) => {
    setInterruptNote('nothing-written');
    checkBackboneArgs(args);
    // A folder as --out used to put the temp file beside the folder (in / for --out /tmp) and fail at the rename.
    if (fs.statSync(args.out, { throwIfNoEntry: false })?.isDirectory())
      throw new UsageError(
        `--out ${args.out} is a folder; give a file name such as ${path.join(args.out, 'input.npy')}.`,
      );
    ensureParentDir(args.out, `--out ${args.out}`);
    removeDeadTemps(args.out);
    const prepared = await prepareBackbone({
      model: args.model,
      layer: args.layer,
      preprocess: args.preprocess,
      log: logger(args),
    });
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(args.image);
    } catch {
      throw new ConvfeatError(`Cannot read ${args.image}; check the path.`);
    }
    const result = await preprocessDetailed(bytes, {
      spec: prepared.spec,
      exif: args.exif,
      ...(args['max-pixels'] !== undefined ? { maxPixels: args['max-pixels'] } : {}),
    });
    const size = outputSize(prepared.spec)!;
    const shape = prepared.spec.layout === 'NCHW' ? [1, 3, size.height, size.width] : [1, size.height, size.width, 3];
    writeNpySync(args.out, { dtype: '<f4', shape, data: result.tensor });
    const summary = {
      image: args.image,
      out: args.out,
      shape,
      model: prepared.name,
      spec: prepared.spec,
      source: result.source,
    };
    if (args.json) printJson(summary);
    else
      say(
        args,
        `wrote ${args.out}: float32 [${shape.join(', ')}] (${prepared.name} preprocessing, source ${result.source.width}×${result.source.height})\n`,
      );
  }),
};
