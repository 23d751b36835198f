/**
 * Naming rules shared by the folder and manifest readers: which split names exist, which file names look like
 * images, which entries are hidden, and how paths become portable keys.
 */
import * as path from 'path';
import type { Split } from './types';

export const SPLITS: readonly Split[] = ['train', 'val', 'test'];

const SPLIT_ALIASES: Record<string, Split> = {
  train: 'train',
  val: 'val',
  valid: 'val',
  validation: 'val',
  test: 'test',
};

export const SPLIT_NAMES_TEXT = 'train, val (also valid, validation) or test';

/** Maps a folder or manifest split name to its canonical split, case-insensitively; undefined when unknown. */
export function normalizeSplit(name: string): Split | undefined {
  return SPLIT_ALIASES[name.trim().toLowerCase()];
}

/**
 * Extensions of files sharp can decode (sharp.format: jpeg, png, webp, gif, tiff, heif/avif, svg) plus a few common
 * photo formats it cannot (bmp, heic without HEVC): those are still listed so extract reports each as a failure
 * rather than the input looking empty.
 */
export const IMAGE_EXTENSIONS: readonly string[] = [
  '.jpg',
  '.jpeg',
  '.jpe',
  '.jfif',
  '.png',
  '.webp',
  '.gif',
  '.tif',
  '.tiff',
  '.avif',
  '.heic',
  '.heif',
  '.bmp',
  '.svg',
];

export function looksLikeImage(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(name).toLowerCase());
}

/** Dot-files and dot-folders (.DS_Store, .git, .ipynb_checkpoints, our own temp files) are never dataset items. */
export function isHidden(name: string): boolean {
  return name.startsWith('.');
}

export function toPosix(p: string): string {
  return path.sep === '/' ? p : p.split(path.sep).join('/');
}

/** Code-unit order: independent of the locale and ICU version, so every machine sorts the same way. */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
