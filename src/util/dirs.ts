/**
 * Creating folders. Node 20's `mkdirSync(dir, { recursive: true })` loops forever (100 % CPU, deaf to SIGTERM) on
 * pseudo filesystems such as /proc, where mkdir fails with ENOENT although the parent exists. This walks up to the
 * deepest existing ancestor and creates each missing level once, so every failure is one sentence.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ConvfeatError } from './errors';
import { errnoCode, translateFsError } from './fsErrors';

/**
 * Makes sure `dir` is a folder, creating it and its missing parents. `what` names the option or role for messages
 * (e.g. `param('out')`, which reads out from code and --out from the CLI, or "the cache"). Throws a ConvfeatError when a file is in the way, a level cannot be created, or permission is
 * refused.
 */
export function ensureDir(dir: string, what?: string, forFile?: string): string {
  const abs = path.resolve(dir);
  const shown = what ? `${what} ${dir}` : dir;
  const missing: string[] = [];
  let probe = abs;
  for (;;) {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(probe, { throwIfNoEntry: false });
    } catch (e) {
      // ENOTDIR: a file higher up, found as the walk goes on; anything else (EACCES) is one sentence now.
      if (errnoCode(e) !== 'ENOTDIR') throw translateFsError(e, probe) ?? e;
    }
    if (st) {
      if (!st.isDirectory()) {
        throw new ConvfeatError(
          forFile !== undefined
            ? `Cannot write ${forFile}: ${probe} is a file, not a folder; choose another location.`
            : probe === abs
              ? `${shown} is a file, not a folder; choose a folder path (or move the file away).`
              : `Cannot create ${shown}: ${probe} is a file, not a folder; choose another location.`,
        );
      }
      break;
    }
    const parent = path.dirname(probe);
    if (parent === probe) break; // the root itself is missing: let mkdir say why
    missing.push(probe);
    probe = parent;
  }
  for (const level of missing.reverse()) {
    try {
      fs.mkdirSync(level);
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'EEXIST' && fs.statSync(level, { throwIfNoEntry: false })?.isDirectory()) continue; // a racing run
      if (code === 'ENOENT') {
        // The parent exists (we just checked or created it), yet mkdir says it does not: /proc, /sys and the like.
        throw new ConvfeatError(
          `Cannot create ${shown}: ${path.dirname(level)} does not accept new folders (a system or virtual filesystem); choose another location.`,
        );
      }
      throw (
        translateFsError(e, level) ??
        new ConvfeatError(`Cannot create ${shown} (${code ?? (e as Error).message}); choose another location.`)
      );
    }
  }
  return abs;
}

/** ensureDir for the folder a file will be written into. */
export function ensureParentDir(file: string, what?: string): string {
  return ensureDir(path.dirname(path.resolve(file)), what ? `the folder of ${what}` : undefined, what ?? file);
}
