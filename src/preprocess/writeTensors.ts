/**
 * The model's exact input tensors written to disk, to compare with a Python pipeline: one .npy (1×3×H×W) per image,
 * mirroring the inputs' sub-paths under a folder, or one stacked N×3×H×W array plus a .txt of the rows' paths. Every
 * file is written atomically, so an interrupted run leaves whole files or none; when an image fails, the files
 * already written stay and the message names the image.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { ImageFile } from '../dataset/imageFiles';
import { removeDeadTemps, writeFileAtomicSync } from '../util/atomic';
import { ensureDir, ensureParentDir } from '../util/dirs';
import { ConvfeatError, UsageError } from '../util/errors';
import { writeNpySync } from '../util/npy';
import { param } from '../util/params';
import type { TransformOptions } from './options';
import { outputSize } from './spec';
import { preprocessDetailed } from './transform';

/** 'single': one image into the .npy `out`; 'files': one .npy per image under the folder `out`; 'stack': one array. */
export type TensorOutputMode = 'single' | 'files' | 'stack';

/**
 * Which output `out` must be for these images, refused before any work (a folder as a file name used to put the
 * temp file beside the folder and fail at the rename), and its folder made ready.
 */
export function prepareTensorOutput(images: ImageFile[], out: string, stack = false): TensorOutputMode {
  // One image given as a file (not a folder holding one image) is written to `out` itself.
  const single = images.length === 1 && !stack && !images[0]!.inFolder;
  const outName = `${param('out')} ${out}`;
  if ((single || stack) && fs.statSync(out, { throwIfNoEntry: false })?.isDirectory())
    throw new UsageError(`${outName} is a folder; give a file name such as ${path.join(out, 'input.npy')}.`);
  if ((single || stack) && !/\.npy$/i.test(out))
    throw new UsageError(`Expected ${param('out')} to name a .npy file but received ${JSON.stringify(out)}`);
  if (!single && !stack && /\.npy$/i.test(out))
    throw new UsageError(
      `${outName} names a .npy file but ${images.length} images need a directory (or add ${param('stack')} for one array).`,
    );
  if (!single && !stack && fs.existsSync(out) && !fs.statSync(out).isDirectory())
    throw new UsageError(`${outName} is a file; several images need a directory (or ${param('stack')} for one .npy).`);
  if (single || stack) {
    ensureParentDir(out, outName);
    removeDeadTemps(out);
  } else ensureDir(out, outName);
  return single ? 'single' : stack ? 'stack' : 'files';
}

export interface WrittenTensor {
  image: string;
  out: string;
  source: { width: number; height: number };
}

export interface WriteTensorsResult {
  files: WrittenTensor[];
  /** Shape of each written array: [1, …one] per file, [N, …one] stacked. */
  shape: number[];
  /** The .txt of the stacked rows' image paths; null unless stacked. */
  paths: string | null;
}

/**
 * Preprocesses each image with `transform` and writes it as `mode` says (see prepareTensorOutput). `images[i].rel`
 * names each file under `out` in 'files' mode (listImageFiles with extension '.npy' gives such names).
 */
export async function writeTensors(
  images: ImageFile[],
  out: string,
  mode: TensorOutputMode,
  transform: TransformOptions,
  log?: (line: string) => void,
): Promise<WriteTensorsResult> {
  const size = outputSize(transform.spec);
  if (!size)
    throw new ConvfeatError(
      'The preprocessing has no fixed output size (no crop, no exact resize), so its tensors cannot be written as arrays.',
    );
  const one = transform.spec.layout === 'NCHW' ? [3, size.height, size.width] : [size.height, size.width, 3];
  const per = one[0]! * one[1]! * one[2]!;
  const stacked = mode === 'stack' ? new Float32Array(images.length * per) : null;
  const files: WrittenTensor[] = [];
  for (const [i, job] of images.entries()) {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(job.raw ?? job.file);
    } catch {
      throw new ConvfeatError(`Cannot read ${job.file}; check the path.`);
    }
    let result;
    try {
      result = await preprocessDetailed(bytes, transform);
    } catch (e) {
      // Which image failed matters when there are hundreds; the files already written stay.
      throw new ConvfeatError(`${job.file}: ${(e as Error).message}`);
    }
    const file = mode === 'files' ? path.join(out, job.rel) : out;
    if (stacked) stacked.set(result.tensor, i * per);
    else {
      ensureParentDir(file, `${param('out')} ${out}`);
      writeNpySync(file, { dtype: '<f4', shape: [1, ...one], data: result.tensor });
    }
    files.push({ image: job.file, out: file, source: { width: result.source.width, height: result.source.height } });
    if (mode !== 'single' && (i + 1) % 50 === 0) log?.(`preprocess ${i + 1}/${images.length}`);
  }
  let paths: string | null = null;
  if (stacked) {
    writeNpySync(out, { dtype: '<f4', shape: [images.length, ...one], data: stacked });
    paths = out.replace(/\.npy$/i, '.txt');
    writeFileAtomicSync(paths, `${images.map((j) => j.file).join('\n')}\n`);
  }
  return { files, shape: [stacked ? images.length : 1, ...one], paths };
}
