/**
 * Reading dataset files ahead of the extraction loop, with memory bounded by what is an image, not by what sits in
 * the folders: each file's first bytes are read and sniffed before the file is read whole, so a 700 MB video, a
 * disk image or a sparse file of zeros is refused after 256 bytes; a file over the size limit is refused from its
 * size alone; and the bytes of files read ahead but not yet handled stay under a budget.
 */
import * as fs from 'fs';
import type { DatasetItem } from '../dataset/types';
import { refusalFromHead, SNIFF_BYTES } from '../preprocess/decode';
import { describeError } from '../util/errors';

/** Default per-file size limit: far above any photo (a 100-megapixel JPEG is ≈ 30 MB), far below a video. */
export const DEFAULT_MAX_FILE_MB = 256;

/** Files read concurrently ahead of the one being handled (in dataset order): disk latency overlaps. */
export const READ_AHEAD = 16;

/** Bytes of whole files read ahead and not yet handed to the loop; one file over it is still read alone. */
export const READ_AHEAD_BYTES = 64 * 1024 * 1024;

/** A file refused before it was read whole; the message is the reason shown in its `skipped` line. */
export class RefusedFile extends Error {}

export interface ReadResult {
  item: DatasetItem;
  bytes?: Buffer;
  error?: unknown;
}

/**
 * Counts the bytes of files read ahead and not yet handed to the loop. A read waits for room, except the read of the
 * item the loop waits for next (the front), which always proceeds: the loop can then always move, so no deadlock.
 */
class ByteBudget {
  private held = 0;
  private front = 0;
  private waiting: Array<() => void> = [];
  constructor(private readonly limit: number) {}

  async take(n: number, index: number): Promise<void> {
    while (index !== this.front && this.held > 0 && this.held + n > this.limit)
      await new Promise<void>((r) => this.waiting.push(r));
    this.held += n;
  }

  /** The loop took the item at `index` (holding n budgeted bytes, 0 when it failed before taking any). */
  handed(index: number, n: number): void {
    this.held -= n;
    this.front = index + 1;
    const waiting = this.waiting;
    this.waiting = [];
    for (const wake of waiting) wake();
  }
}

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** The path to open: the raw bytes of a name that is not valid UTF-8, else the path string. */
function fsPath(item: DatasetItem): fs.PathLike {
  return item.rawPath ?? item.path;
}

// Callback-style fs wrapped once per call: a FileHandle (fs.promises) costs about twice the CPU per small file (its
// own promises, event emitter and close tracking; 0.18–0.23 against 0.12 ms per photo measured here), and reading is
// on extraction's main thread, whose every millisecond the model waits for.
const fsOpen = (p: fs.PathLike, flags: number) =>
  new Promise<number>((resolve, reject) => fs.open(p, flags, (e, fd) => (e ? reject(e) : resolve(fd))));
const fsStat = (fd: number) =>
  new Promise<fs.Stats>((resolve, reject) => fs.fstat(fd, (e, st) => (e ? reject(e) : resolve(st))));
const fsRead = (fd: number, buffer: Buffer, offset: number, length: number, position: number) =>
  new Promise<number>((resolve, reject) =>
    fs.read(fd, buffer, offset, length, position, (e, n) => (e ? reject(e) : resolve(n))),
  );
const fsClose = (fd: number) => new Promise<void>((resolve) => fs.close(fd, () => resolve()));

/** Files up to this size are read whole in one go and sniffed from memory (a separate head read costs as much). */
const WHOLE_READ_BYTES = 1024 * 1024;

/** The file from `offset` to its end, appended to `buffer[0, offset)`; keeps reading while it grows, up to `cap`. */
async function readToEnd(fd: number, buffer: Buffer, offset: number, cap: number): Promise<Buffer> {
  let buf = buffer;
  let filled = offset;
  for (;;) {
    if (filled === buf.length) {
      if (buf.length > cap) return buf; // grew past the limit: the caller refuses it
      const bigger = Buffer.allocUnsafeSlow(Math.max(buf.length * 2, 64 * 1024));
      buf.copy(bigger, 0, 0, filled);
      buf = bigger;
    }
    const n = await fsRead(fd, buf, filled, buf.length - filled, filled);
    if (n <= 0) return buf.subarray(0, filled);
    filled += n;
  }
}

async function readItem(
  item: DatasetItem,
  index: number,
  maxBytes: number,
  budget: ByteBudget,
): Promise<{ bytes: Buffer; budgeted: number }> {
  // O_NONBLOCK: a FIFO swapped in after the scan must not block the open; regular files ignore the flag.
  const fd = await fsOpen(fsPath(item), fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const stat = await fsStat(fd);
    if (!stat.isFile()) throw new RefusedFile('not a regular file');
    if (stat.size === 0) throw new RefusedFile('empty file (0 bytes)');
    let bytes: Buffer;
    if (stat.size <= Math.min(WHOLE_READ_BYTES, maxBytes)) {
      // Small: read whole (one extra byte of room shows growth without a second buffer), then sniff the head.
      await budget.take(stat.size, index);
      try {
        bytes = await readToEnd(fd, Buffer.allocUnsafeSlow(stat.size + 1), 0, maxBytes);
      } catch (e) {
        throw Object.assign(e as Error, { budgeted: stat.size });
      }
      const refusal = bytes.length > 0 ? refusalFromHead(bytes.subarray(0, SNIFF_BYTES)) : 'empty file (0 bytes)';
      if (refusal) throw Object.assign(new RefusedFile(refusal), { budgeted: stat.size });
    } else {
      const head = Buffer.alloc(Math.min(SNIFF_BYTES, stat.size));
      const got = await fsRead(fd, head, 0, head.length, 0);
      const refusal = refusalFromHead(head.subarray(0, got));
      if (refusal) throw new RefusedFile(refusal);
      if (stat.size > maxBytes) {
        throw new RefusedFile(
          `file is ${megabytes(stat.size)}, over the ${megabytes(maxBytes)} limit per image (--max-file-size)`,
        );
      }
      await budget.take(stat.size, index);
      try {
        bytes = await readToEnd(fd, Buffer.allocUnsafeSlow(stat.size + 1), 0, maxBytes);
      } catch (e) {
        throw Object.assign(e as Error, { budgeted: stat.size });
      }
    }
    if (bytes.length > maxBytes) {
      throw Object.assign(new RefusedFile(`file grew past the ${megabytes(maxBytes)} limit while read`), {
        budgeted: stat.size,
      });
    }
    return { bytes, budgeted: stat.size };
  } finally {
    await fsClose(fd);
  }
}

/** Reads items in order, up to `depth` files and READ_AHEAD_BYTES ahead of the consumer. */
export async function* readAhead(
  items: readonly DatasetItem[],
  options: { depth?: number; maxFileBytes: number; aheadBytes?: number },
): AsyncGenerator<ReadResult> {
  const depth = options.depth ?? READ_AHEAD;
  const budget = new ByteBudget(options.aheadBytes ?? READ_AHEAD_BYTES);
  const pending: Array<Promise<ReadResult & { index: number; budgeted: number }>> = [];
  let next = 0;
  const start = (): void => {
    const index = next++;
    const item = items[index]!;
    pending.push(
      readItem(item, index, options.maxFileBytes, budget).then(
        ({ bytes, budgeted }) => ({ item, bytes, index, budgeted }),
        (error: unknown) => ({
          item,
          error: error ?? 'read failed',
          index,
          budgeted: (error as { budgeted?: number } | null)?.budgeted ?? 0,
        }),
      ),
    );
  };
  while (next < items.length && pending.length < depth) start();
  while (pending.length > 0) {
    const { index, budgeted, ...result } = await pending.shift()!;
    budget.handed(index, budgeted);
    if (next < items.length) start();
    yield result;
  }
}

/** One short reason for a file that could not be read, fit for its `skipped` line. */
export function readReason(e: unknown): string {
  if (e instanceof RefusedFile) return e.message;
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ENOENT') return 'file disappeared or is a broken link';
  if (code === 'ELOOP') return 'symbolic link loop';
  if (code === 'EISDIR') return 'is a directory';
  return describeError(e);
}
