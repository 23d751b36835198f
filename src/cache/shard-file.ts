/**
 * Embedding shards are ordinary .npy files (float32, [k, D], C order), so `numpy.load` opens every one. The store
 * reads only their headers on open and then whole shards or single rows straight into aligned Float32Arrays.
 */
import * as fs from 'fs';

export interface ShardHeader {
  rows: number;
  /** Byte offset of row 0. */
  offset: number;
}

const MAGIC = '\x93NUMPY';

/**
 * Parses the header of a float32 [k, dim] .npy shard; undefined when the file is missing, not such an array, or
 * shorter than its header says (which atomic writes rule out, but a copied cache might not).
 */
export function readShardHeader(file: string, dim: number): ShardHeader | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const size = fs.fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(size, 4096));
    fs.readSync(fd, head, 0, head.length, 0);
    if (head.length < 10 || head.subarray(0, 6).toString('latin1') !== MAGIC) return undefined;
    const major = head[6];
    const headerLen = major === 1 ? head.readUInt16LE(8) : head.readUInt32LE(8);
    const start = major === 1 ? 10 : 12;
    if (start + headerLen > head.length) return undefined;
    const header = head.subarray(start, start + headerLen).toString('latin1');
    if (!/'descr':\s*'<f4'/.test(header) || !/'fortran_order':\s*False/.test(header)) return undefined;
    const shape = /'shape':\s*\((\d+),\s*(\d+)\s*\)/.exec(header);
    if (!shape || Number(shape[2]) !== dim) return undefined;
    const rows = Number(shape[1]);
    const offset = start + headerLen;
    if (size < offset + rows * dim * 4) return undefined;
    return { rows, offset };
  } finally {
    fs.closeSync(fd);
  }
}

function readInto(fd: number, target: Float32Array, position: number): void {
  const bytes = new Uint8Array(target.buffer, target.byteOffset, target.byteLength);
  let done = 0;
  while (done < bytes.length) {
    const n = fs.readSync(fd, bytes, done, bytes.length - done, position + done);
    if (n === 0) throw new Error('unexpected end of file');
    done += n;
  }
}

/** Rows [first, first+count) of a shard as one Float32Array. */
export function readShardRows(
  file: string,
  header: ShardHeader,
  dim: number,
  first: number,
  count: number,
): Float32Array {
  const out = new Float32Array(count * dim);
  const fd = fs.openSync(file, 'r');
  try {
    readInto(fd, out, header.offset + first * dim * 4);
  } finally {
    fs.closeSync(fd);
  }
  return out;
}
