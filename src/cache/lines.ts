/**
 * Reads a text file line by line in fixed-size chunks, so index.jsonl and dataset.jsonl of millions of rows never
 * become one string (V8 caps strings at 512 MiB; a 10-million-row index is about 1 GB). Synchronous, like the
 * store that uses it.
 */
import * as fs from 'fs';

const CHUNK = 1 << 20;

/**
 * Calls onLine with every line (without its "\n"; a last line without one is passed too, flagged `complete:
 * false`). Returns false when the file does not exist. `chunkBytes` exists for tests of lines that span chunks.
 */
export function forEachLine(
  file: string,
  onLine: (line: string, complete: boolean) => void,
  chunkBytes = CHUNK,
  encoding: 'utf8' | 'latin1' = 'utf8',
): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  try {
    let chunk = Buffer.allocUnsafe(chunkBytes);
    let carry = 0; // bytes of an unfinished line at the start of chunk
    for (;;) {
      if (carry === chunk.length) {
        // One line longer than the chunk: grow (only hand-edited files get here).
        const bigger = Buffer.allocUnsafe(chunk.length * 2);
        chunk.copy(bigger, 0, 0, carry);
        chunk = bigger;
      }
      const n = fs.readSync(fd, chunk, carry, chunk.length - carry, null);
      const end = carry + n;
      let start = 0;
      for (let nl = chunk.indexOf(0x0a, start); nl >= 0 && nl < end; nl = chunk.indexOf(0x0a, start)) {
        onLine(chunk.toString(encoding, start, nl), true);
        start = nl + 1;
      }
      carry = end - start;
      if (n === 0) {
        if (carry > 0) onLine(chunk.toString(encoding, start, end), false);
        return true;
      }
      chunk.copy(chunk, 0, start, end);
    }
  } finally {
    fs.closeSync(fd);
  }
}
