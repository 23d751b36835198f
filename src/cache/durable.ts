/**
 * The store's durable writes, step by step, with a named crash point between every two steps (crash.ts). A shard
 * is written to a temp file, fsynced, renamed into place and its directory fsynced; only then may index lines
 * point at it, and an index append is fsynced before the batch counts as stored. Every write loops until all bytes
 * are written (a short write is not an error, a full disk is one sentence and leaves no half file behind).
 */
import * as fs from 'fs';
import * as path from 'path';
import { createHash } from 'crypto';
import { fsyncDir, tempSibling } from '../util/atomic';
import { ConvfeatError } from '../util/errors';
import { translateFsError } from '../util/fsErrors';
import { crashPoint } from './crash';

function writeAll(fd: number, bytes: Uint8Array, file: string): void {
  let done = 0;
  while (done < bytes.length) {
    const n = fs.writeSync(fd, bytes, done, bytes.length - done);
    if (n <= 0) throw Object.assign(new Error('no progress'), { code: 'EIO', path: file });
    done += n;
  }
}

function writeFailure(e: unknown, file: string, what: string, reportAs?: string): ConvfeatError {
  // The user's path (not a temp or staging sibling) in the same sentence every other full-disk write gives.
  const translated = translateFsError(e, reportAs ?? file);
  if (translated) return translated;
  const code = (e as NodeJS.ErrnoException).code ?? 'error';
  const why =
    code === 'ENOSPC' || code === 'EDQUOT'
      ? 'no space left on the device'
      : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
        ? 'permission denied'
        : code;
  return new ConvfeatError(
    `Cannot write ${what} ${file} (${why}); what was written before is kept. Free space or fix permissions, then run again.`,
  );
}

export { fsyncDir };

/**
 * Writes `parts` as `file` atomically and durably; returns the sha256 (hex) of the bytes written. `stage` names
 * the crash points: `${stage}-written`, `${stage}-fsynced`, `${stage}-renamed`.
 */
export function writeDurable(
  file: string,
  parts: readonly Uint8Array[],
  stage: string,
  what: string,
  reportAs?: string,
): string {
  const tmp = tempSibling(file);
  const sum = createHash('sha256');
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      for (const part of parts) {
        writeAll(fd, part, tmp);
        sum.update(part);
      }
      crashPoint(`${stage}-written`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    crashPoint(`${stage}-fsynced`);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    if (e instanceof ConvfeatError) throw e;
    throw writeFailure(e, file, what, reportAs);
  }
  crashPoint(`${stage}-renamed`);
  fsyncDir(path.dirname(file));
  return sum.digest('hex');
}

/**
 * Appends text to a file and fsyncs it. A failed append is cut back to the old length, so the file never keeps
 * half a line that a later append would glue to. Crash points: `${stage}-written`, `${stage}-fsynced`.
 */
export function appendDurable(file: string, text: string, stage: string): void {
  const fd = fs.openSync(file, 'a');
  let before = -1;
  try {
    before = fs.fstatSync(fd).size;
    writeAll(fd, Buffer.from(text, 'utf8'), file);
    crashPoint(`${stage}-written`);
    fs.fsyncSync(fd);
  } catch (e) {
    if (before >= 0) {
      try {
        fs.ftruncateSync(fd, before);
      } catch {
        // the next open cuts a torn tail anyway
      }
    }
    throw writeFailure(e, file, 'the index');
  } finally {
    fs.closeSync(fd);
  }
  crashPoint(`${stage}-fsynced`);
}

/** sha256 (hex) of a whole file, read in chunks. */
export function fileSha256(file: string): string {
  const sum = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 22);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      sum.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return sum.digest('hex');
}

/**
 * Writes a large file (compaction's new index: 10 M lines are ~1 GB, past V8's string limit) to a temp file in
 * chunks, then fsyncs and renames it into place. Crash points: `${stage}-written`, `${stage}-renamed`.
 */
export class ChunkedFileWriter {
  private readonly tmp: string;
  private fd: number;
  private pending = '';

  constructor(
    private readonly target: string,
    private readonly stage: string,
  ) {
    this.tmp = tempSibling(target);
    this.fd = fs.openSync(this.tmp, 'w');
  }

  add(text: string): void {
    this.pending += text;
    if (this.pending.length > 1 << 20) this.flush();
  }

  private flush(): void {
    try {
      writeAll(this.fd, Buffer.from(this.pending, 'utf8'), this.tmp);
    } catch (e) {
      throw writeFailure(e, this.target, 'the file');
    }
    this.pending = '';
  }

  commit(): void {
    this.flush();
    crashPoint(`${this.stage}-written`);
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    this.fd = -1;
    fs.renameSync(this.tmp, this.target);
    crashPoint(`${this.stage}-renamed`);
    fsyncDir(path.dirname(this.target));
  }

  /** Before commit: closes and removes the temp file. After commit: nothing to do. */
  abort(): void {
    if (this.fd < 0) return;
    fs.closeSync(this.fd);
    this.fd = -1;
    fs.rmSync(this.tmp, { force: true });
  }
}
