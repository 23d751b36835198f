/**
 * `convfeat preprocess IMAGE… --model NAME --out x.npy|DIR`: the exact input tensors, to compare with a Python
 * pipeline. One image → one .npy (1×3×H×W). Several images or a folder → one .npy per image under --out DIR
 * (mirroring the folder's sub-paths), or with --stack one N×3×H×W array plus a .txt listing the rows' paths, so a
 * whole folder is checked against Python in one process instead of one per image.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Argv, CommandModule } from 'yargs';
import { prepareBackbone } from '../backbone/load';
import { looksLikeImage } from '../dataset';
import { preprocessDetailed } from '../preprocess';
import { outputSize } from '../preprocess/spec';
import { removeDeadTemps } from '../util/atomic';
import { ensureDir, ensureParentDir } from '../util/dirs';
import { writeFileAtomicSync } from '../util/atomic';
import { ConvfeatError, UsageError } from '../util/errors';
import { writeNpySync } from '../util/npy';
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

/** One input image and the name of its .npy relative to --out DIR. */
interface Job {
  file: string;
  rel: string;
}

/** Image files under dir, recursively, sorted; hidden entries skipped; each real folder entered once (no loops). */
function imagesUnder(dir: string, seen = new Set<string>()): string[] {
  const real = fs.realpathSync(dir);
  if (seen.has(real)) return [];
  seen.add(real);
  const out: string[] = [];
  const entries = fs
    .readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(p);
    } catch {
      continue; // a broken link is not an image
    }
    if (stat.isDirectory()) out.push(...imagesUnder(p, seen));
    else if (stat.isFile() && looksLikeImage(e.name)) out.push(p);
  }
  return out;
}

/** Expands folders (recursively, images only, sorted) and keeps files as given; the .npy names never collide. */
function listJobs(inputs: string[]): Job[] {
  const jobs: Job[] = [];
  for (const input of inputs) {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(input);
    } catch {
      throw new ConvfeatError(`Cannot read ${input}; check the path.`);
    }
    if (stat.isDirectory()) {
      const files = imagesUnder(input);
      if (files.length === 0) throw new ConvfeatError(`${input} holds no images (.jpg, .png, …); check the path.`);
      for (const f of files)
        jobs.push({ file: f, rel: path.join(path.basename(path.resolve(input)), path.relative(input, f)) });
    } else jobs.push({ file: input, rel: path.basename(input) });
  }
  const seen = new Map<string, string>();
  for (const j of jobs) {
    j.rel = j.rel.replace(/\.[^./\\]+$/, '') + '.npy';
    const other = seen.get(j.rel);
    if (other !== undefined && other !== j.file)
      throw new UsageError(
        `${other} and ${j.file} would both be written as ${j.rel}; pass them in separate calls or use --stack.`,
      );
    seen.set(j.rel, j.file);
  }
  return jobs;
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
    const jobs = listJobs(inputs);
    const single = jobs.length === 1 && !args.stack && !fs.statSync(inputs[0]).isDirectory();
    // A folder as --out used to put the temp file beside the folder (in / for --out /tmp) and fail at the rename.
    if ((single || args.stack) && fs.statSync(args.out, { throwIfNoEntry: false })?.isDirectory())
      throw new UsageError(
        `--out ${args.out} is a folder; give a file name such as ${path.join(args.out, 'input.npy')}.`,
      );
    if ((single || args.stack) && !/\.npy$/i.test(args.out))
      throw new UsageError(`Expected --out to name a .npy file but received ${JSON.stringify(args.out)}`);
    if (!single && !args.stack && /\.npy$/i.test(args.out))
      throw new UsageError(
        `--out ${args.out} names a .npy file but ${jobs.length} images need a directory (or add --stack for one array).`,
      );
    if (!single && !args.stack && fs.existsSync(args.out) && !fs.statSync(args.out).isDirectory())
      throw new UsageError(`--out ${args.out} is a file; several images need a directory (or --stack for one .npy).`);
    const log = logger(args);
    if (single || args.stack) {
      ensureParentDir(args.out, `--out ${args.out}`);
      removeDeadTemps(args.out);
    } else ensureDir(args.out, `--out ${args.out}`);
    const prepared = await prepareBackbone({
      model: args.model,
      layer: args.layer,
      preprocess: args.preprocess,
      log,
    });
    const size = outputSize(prepared.spec)!;
    const one = prepared.spec.layout === 'NCHW' ? [3, size.height, size.width] : [size.height, size.width, 3];
    const per = one[0] * one[1] * one[2];
    const stacked = args.stack ? new Float32Array(jobs.length * per) : null;
    const written: Array<{ image: string; out: string; source: { width: number; height: number } }> = [];
    for (const [i, job] of jobs.entries()) {
      let bytes: Buffer;
      try {
        bytes = fs.readFileSync(job.file);
      } catch {
        throw new ConvfeatError(`Cannot read ${job.file}; check the path.`);
      }
      let result;
      try {
        result = await preprocessDetailed(bytes, {
          spec: prepared.spec,
          ...image,
        });
      } catch (e) {
        // Which image failed matters when there are hundreds; the files already written stay.
        throw new ConvfeatError(`${job.file}: ${(e as Error).message}`);
      }
      const out = single ? args.out : stacked ? args.out : path.join(args.out, job.rel);
      if (stacked) stacked.set(result.tensor, i * per);
      else {
        ensureParentDir(out, `--out ${args.out}`);
        writeNpySync(out, { dtype: '<f4', shape: [1, ...one], data: result.tensor });
      }
      written.push({ image: job.file, out, source: { width: result.source.width, height: result.source.height } });
      if (!single && !args.quiet && (i + 1) % 50 === 0) log(`preprocess ${i + 1}/${jobs.length}`);
    }
    let listFile: string | null = null;
    if (stacked) {
      writeNpySync(args.out, { dtype: '<f4', shape: [jobs.length, ...one], data: stacked });
      listFile = args.out.replace(/\.npy$/i, '.txt');
      writeFileAtomicSync(listFile, `${jobs.map((j) => j.file).join('\n')}\n`);
    }
    const shape = single ? [1, ...one] : stacked ? [jobs.length, ...one] : [1, ...one];
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
