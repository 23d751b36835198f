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

/**
 * The distinct splits of some entries (dataset items, listed images), sorted; [] when none has a split. The one
 * answer to "which splits are there", so every sentence that names them lists them alike.
 */
export function splitsOf(entries: Iterable<{ split?: Split | undefined }>): Split[] {
  const seen = new Set<Split>();
  for (const e of entries) if (e.split !== undefined) seen.add(e.split);
  return [...seen].sort();
}

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

/**
 * A path fit for one log line: control characters (a newline in a file name would forge a second `skipped` line)
 * and backslashes are written as escapes (\n, \r, \t, \\, \xNN), everything else as is.
 */
export function printablePath(p: string): string {
  // eslint-disable-next-line no-control-regex
  return p.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\\]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    if (c === '\\') return '\\\\';
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`;
  });
}

/**
 * A directory entry's name as Node gives it for `encoding: 'buffer'`: the text when it is valid UTF-8, else a
 * readable stand-in with each invalid byte as \xNN (and `raw`, the bytes to open it by).
 */
export function decodeName(raw: Buffer): { text: string; valid: boolean } {
  const text = raw.toString('utf8');
  if (Buffer.from(text, 'utf8').equals(raw)) return { text, valid: true };
  let out = '';
  let i = 0;
  while (i < raw.length) {
    const len = utf8SequenceLength(raw, i);
    if (len > 0) {
      out += raw.subarray(i, i + len).toString('utf8');
      i += len;
    } else {
      out += `\\x${raw[i]!.toString(16).padStart(2, '0')}`;
      i += 1;
    }
  }
  return { text: out, valid: false };
}

/** Length of the well-formed UTF-8 sequence starting at i, or 0 when the byte there does not start one. */
function utf8SequenceLength(b: Buffer, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (len === 0 || i + len > b.length) return 0;
  for (let k = 1; k < len; k++) if ((b[i + k]! & 0xc0) !== 0x80) return 0;
  const piece = b.subarray(i, i + len);
  return Buffer.from(piece.toString('utf8'), 'utf8').equals(piece) ? len : 0; // overlongs, surrogates
}
