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

/** One input image and the name its output gets, relative to an output folder. */
export interface ImageFile {
  file: string;
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
}

/** Image files under dir, recursively, sorted; hidden entries skipped; each real folder entered once (no loops). */
export function imagesUnder(dir: string, seen = new Set<string>()): string[] {
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

/**
 * Expands folders (recursively, images only, sorted) and keeps files as given, in the order given. Refuses a path
 * that cannot be read, a folder without images, and two inputs whose output names would collide.
 */
export function listImageFiles(inputs: string[], options: ListImageFilesOptions = {}): ImageFile[] {
  const jobs: ImageFile[] = [];
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
        jobs.push({
          file: f,
          rel: path.join(path.basename(path.resolve(input)), path.relative(input, f)),
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
