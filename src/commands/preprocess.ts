/**
 * `convfeat preprocess IMAGE… --model NAME --out x.npy|DIR`: the exact input tensors, to compare with a Python
 * pipeline. One image → one .npy (1×3×H×W). Several images or a folder → one .npy per image under --out DIR
 * (mirroring the folder's sub-paths), or with --stack one N×3×H×W array plus a .txt listing the rows' paths, so a
 * whole folder is checked against Python in one process instead of one per image.
 */
import type { Argv, CommandModule } from 'yargs';
import { prepareBackbone } from '../backbone/load';
import { listImageFiles } from '../dataset/imageFiles';
import { printablePath } from '../dataset/names';
import type { ScanProblem } from '../dataset/types';
import { prepareTensorOutput, writeTensors } from '../preprocess/writeTensors';
import { UsageError } from '../util/errors';
import { param } from '../util/params';
import { backboneChoice, withBackboneOptions, type BackboneArgs } from './options';
import { handler, logger, printJson, say, setInterruptNote } from './run';

export const PREPROCESS_FORMAT_VERSION = 1;

interface PreprocessArgs extends BackboneArgs {
  model: string;
  images: string[];
  out: string;
  stack?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export const preprocessCommand: CommandModule<object, PreprocessArgs> = {
  command: 'preprocess <images..>',
  describe: "Write the model's exact float32 input tensor for one or more images (or folders) as .npy",
  builder: (y: Argv) =>
    withBackboneOptions(
      y
        .positional('images', {
          type: 'string',
          array: true,
          demandOption: true,
          describe: 'Image files and/or folders (searched recursively for images)',
        })
        .option('out', {
          type: 'string',
          demandOption: true,
          describe:
            'One image: the .npy file; several or a folder: a directory for one .npy each, or with --stack the .npy file',
        })
        .option('stack', {
          type: 'boolean',
          describe: 'Write one N×3×H×W array to --out (row order in the .txt beside it) instead of one .npy per image',
        })
        .option('json', { type: 'boolean', describe: 'Print a JSON summary (fields in docs/formats.md)' })
        .option('quiet', { type: 'boolean', describe: 'No progress lines on stderr' }),
      { modelRequired: true },
    ) as unknown as Argv<PreprocessArgs>,
  handler: handler(async (args: PreprocessArgs) => {
    setInterruptNote('nothing-written');
    // --precision, --device and --threads are accepted (the block is shared) but a tensor does not depend on them.
    const { image } = backboneChoice(args);
    const inputs = (args.images ?? []).map(String);
    if (inputs.length === 0) throw new UsageError('Name at least one image or folder to preprocess.');
    const log = logger(args);
    const problems: ScanProblem[] = [];
    const jobs = await listImageFiles(inputs, { extension: '.npy', collisionHint: `use ${param('stack')}`, problems });
    for (const p of problems) log(`skipped ${printablePath(p.path)}: ${p.reason}`);
    const mode = prepareTensorOutput(jobs, args.out, args.stack);
    const single = mode === 'single';
    const prepared = await prepareBackbone({
      model: args.model,
      layer: args.layer,
      preprocess: args.preprocess,
      log,
    });
    const {
      files: written,
      shape,
      paths: listFile,
    } = await writeTensors(jobs, args.out, mode, { spec: prepared.spec, ...image }, args.quiet ? undefined : log);
    const stacked = mode === 'stack';
    if (args.json) {
      printJson({
        formatVersion: PREPROCESS_FORMAT_VERSION,
        ...(single ? { image: written[0].image, out: args.out, source: written[0].source } : {}),
        ...(!single
          ? { images: written.length, out: args.out, stacked: !!stacked, paths: listFile, files: written }
          : {}),
        shape,
        model: prepared.name,
        spec: prepared.spec,
      });
    } else if (single)
      say(
        args,
        `wrote ${args.out}: float32 [${shape.join(', ')}] (${prepared.name} preprocessing, source ${written[0].source.width}×${written[0].source.height})\n`,
      );
    else if (stacked)
      say(
        args,
        `wrote ${args.out}: float32 [${shape.join(', ')}] (${prepared.name} preprocessing); row order in ${listFile}\n`,
      );
    else
      say(
        args,
        `wrote ${written.length} files under ${args.out}: float32 [${shape.join(', ')}] each (${prepared.name} preprocessing)\n`,
      );
  }),
};
