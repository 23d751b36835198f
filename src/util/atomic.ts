/**
 * Files on disk are written atomically: write a temporary sibling, fsync it, rename it over the target. A crash at
 * any moment leaves either the old file or the new one, never half of one. A full disk is an error, never a short
 * file: every write loops until all bytes are down, and a failed write removes its temp and keeps the old file.
 * Temp names carry their writer's pid and start time, so that commands can remove what a killed run left behind
 * (removeDeadTemps) and nothing a live run is still writing.
 */
import * as fs from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { ConvfeatError } from './errors';
import { ensureParentDir } from './dirs';
import { isNoSpace, noSpaceError, translateFsError } from './fsErrors';
import { ownerTag } from './owner';

export { removeDeadTemps } from './owner';

export function tempSibling(target: string): string {
  return path.join(
    path.dirname(target),
    `.${path.basename(target)}.tmp-${ownerTag()}-${randomBytes(4).toString('hex')}`,
  );
}

/**
 * Writes all of `bytes` to `fd`, looping over short writes. A write that makes no progress, or ENOSPC/EDQUOT, is a
 * full disk: throws the one-sentence error naming `target` (the file the user asked for, not the temp).
 */
export function writeAllSync(fd: number, bytes: Uint8Array | string, target: string): void {
  const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  let done = 0;
  try {
    while (done < buf.length) {
      const n = fs.writeSync(fd, buf, done, buf.length - done);
      if (n <= 0) throw noSpaceError(target);
      done += n;
    }
  } catch (e) {
    if (isNoSpace(e)) throw noSpaceError(target, e);
    throw e;
  }
}

/** fsync that reports a full disk (delayed allocation can fail here) as the one-sentence error. */
export function fsyncFileSync(fd: number, target: string): void {
  try {
    fs.fsyncSync(fd);
  } catch (e) {
    if (isNoSpace(e)) throw noSpaceError(target, e);
    throw e;
  }
}

/** Makes a rename in `dir` durable; a filesystem that refuses fsync on a folder still renames atomically. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic there.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export function writeFileAtomicSync(target: string, data: string | Uint8Array): void {
  ensureParentDir(target);
  const tmp = tempSibling(target);
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      writeAllSync(fd, data, target);
      fsyncFileSync(fd, target);
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw translateFsError(e, target) ?? e;
  }
  commitTempFile(tmp, target);
}

export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  ensureParentDir(target);
  const tmp = tempSibling(target);
  try {
    const handle = await fs.promises.open(tmp, 'w');
    try {
      // FileHandle.writeFile loops over short writes itself and throws ENOSPC when the disk is full.
      await handle.writeFile(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw translateFsError(e, target) ?? e;
  }
  commitTempFile(tmp, target);
}

/** Moves a finished temporary file into place (same filesystem), then fsyncs the directory. */
export function commitTempFile(tmp: string, target: string): void {
  try {
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new ConvfeatError(
      `Cannot replace ${target} (${code})${code === 'EISDIR' ? ': a folder is in its place' : ''}; move it away or choose another location, then run again.`,
    );
  }
  fsyncDir(path.dirname(target));
}
