/**
 * The images a list of paths names, for jobs that take "these files and folders" rather than a dataset (preprocess):
 * folders are expanded recursively in sorted order, hidden entries skipped, each real folder entered once (a link
 * loop cannot hang or repeat), and every image gets a relative output name that mirrors where it was found, checked
 * for collisions before anything is written.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ConvfeatError, UsageError } from '../util/errors';
import { looksLikeImage } from './names';
import type { ScanProblem } from './types';
import { walkFiles, WalkState } from './walk';

/** One input image and the name its output gets, relative to an output folder. */
export interface ImageFile {
  file: string;
  /** The path's bytes, when a name on the way is not valid UTF-8 (`file` then shows them as \xNN): what to read. */
  raw?: Buffer;
  /** <folder name>/<sub-path> for an image found in a folder, the base name for a file given directly. */
  rel: string;
  /** True when the image was found in a folder given as input, false when the file itself was given. */
  inFolder: boolean;
}

export interface ListImageFilesOptions {
  /** Replace each output name's extension with this one (e.g. '.npy'); default: keep the image's name. */
  extension?: string;
  /** What the collision message suggests besides separate calls (e.g. 'use --stack'). */
  collisionHint?: string;
  /** Where folders that were skipped are reported (a link loop, a folder reached twice, an unreadable folder). */
  problems?: ScanProblem[];
}

/**
 * Image files under dir, recursively, sorted; hidden entries skipped; each real folder entered once. The dataset
 * scan's own walker (walk.ts), so loops, links and names that are not UTF-8 are handled the same way everywhere.
 */
export async function imagesUnder(
  dir: string,
  problems: ScanProblem[] = [],
): Promise<Array<{ path: string; raw?: Buffer }>> {
  const files = await walkFiles(dir, new WalkState(problems));
  return files.filter((f) => looksLikeImage(f.path));
}

/**
 * Expands folders (recursively, images only, sorted) and keeps files as given, in the order given. Refuses a path
 * that cannot be read, a folder without images, and two inputs whose output names would collide.
 */
export async function listImageFiles(inputs: string[], options: ListImageFilesOptions = {}): Promise<ImageFile[]> {
  const jobs: ImageFile[] = [];
  for (const input of inputs) {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(input);
    } catch {
      throw new ConvfeatError(`Cannot read ${input}; check the path.`);
    }
    if (stat.isDirectory()) {
      const files = await imagesUnder(input, options.problems);
      if (files.length === 0) throw new ConvfeatError(`${input} holds no images (.jpg, .png, …); check the path.`);
      for (const f of files)
        jobs.push({
          file: f.path,
          ...(f.raw ? { raw: f.raw } : {}),
          rel: path.join(path.basename(path.resolve(input)), path.relative(input, f.path)),
          inFolder: true,
        });
    } else jobs.push({ file: input, rel: path.basename(input), inFolder: false });
  }
  const seen = new Map<string, string>();
  for (const j of jobs) {
    if (options.extension !== undefined) j.rel = j.rel.replace(/\.[^./\\]+$/, '') + options.extension;
    const other = seen.get(j.rel);
    if (other !== undefined && other !== j.file)
      throw new UsageError(
        `${other} and ${j.file} would both be written as ${j.rel}; pass them in separate calls${options.collisionHint ? ` or ${options.collisionHint}` : ''}.`,
      );
    seen.set(j.rel, j.file);
  }
  return jobs;
}
