/**
 * Ordinary filesystem conditions (a full disk, a read-only folder, a file where a folder is expected) become one
 * sentence that says what to do, instead of Node's errno message and "this is a bug".
 */
import * as fs from 'fs';
import * as path from 'path';
import { ConvfeatError } from './errors';

const NO_SPACE = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);
const NOT_ALLOWED = new Set(['EACCES', 'EPERM', 'EROFS']);

export function errnoCode(e: unknown): string | undefined {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function isNoSpace(e: unknown): boolean {
  return NO_SPACE.has(errnoCode(e) ?? '');
}

/** The device a file lives on, for messages: its mount point when /proc/mounts says, else its folder. */
export function deviceOf(file: string): string {
  const abs = path.resolve(file);
  try {
    // Longest mount point that is a prefix of the path (Linux); other systems fall back to the folder.
    const mounts = fs
      .readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1]?.replace(/\\040/g, ' '))
      .filter((m): m is string => Boolean(m));
    let best = '';
    for (const m of mounts) {
      const prefix = m.endsWith('/') ? m : `${m}/`;
      if ((abs === m || abs.startsWith(prefix)) && m.length > best.length) best = m;
    }
    if (best) return best;
  } catch {
    // not Linux
  }
  return path.dirname(abs);
}

/** The sentence for a full disk while writing `file` (the target, not its temporary sibling). */
export function noSpaceError(file: string, cause?: unknown): ConvfeatError {
  const kept = fs.existsSync(file) ? `the previous ${path.basename(file)} is untouched` : 'nothing was written to it';
  return new ConvfeatError(
    `No space left on ${deviceOf(file)} while writing ${file}; ${kept}. Free some space or choose another location, then run again.`,
    1,
    { cause },
  );
}

/**
 * Translates a filesystem error met while writing or creating `target` into a ConvfeatError; returns undefined for
 * anything that is not an ordinary condition (those stay bugs).
 */
export function translateFsError(e: unknown, target?: string): ConvfeatError | undefined {
  if (e instanceof ConvfeatError) return e;
  const code = errnoCode(e);
  if (!code) return undefined;
  const where = target ?? (e as NodeJS.ErrnoException).path;
  if (!where) return undefined;
  if (NO_SPACE.has(code)) return noSpaceError(where, e);
  if (NOT_ALLOWED.has(code))
    return new ConvfeatError(
      `Permission denied writing ${where} (${code}); choose a location you can write to or fix its permissions, then run again.`,
      1,
      { cause: e },
    );
  if (code === 'ENOTDIR')
    return new ConvfeatError(
      `Cannot use ${where}: part of that path is a file where a folder is expected; choose another location.`,
      1,
      { cause: e },
    );
  if (code === 'EISDIR')
    return new ConvfeatError(`${where} is a folder where a file is expected; give a file name instead.`, 1, {
      cause: e,
    });
  if (code === 'EMFILE' || code === 'ENFILE')
    return new ConvfeatError(
      `Too many open files while using ${where}; raise the limit (ulimit -n) and run again.`,
      1,
      { cause: e },
    );
  if (code === 'EIO')
    return new ConvfeatError(`Input/output error on ${where}; the disk may be failing. Check it, then run again.`, 1, {
      cause: e,
    });
  return undefined;
}
