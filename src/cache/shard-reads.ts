/**
 * Reading rows out of a cache's shard files, checked: the first read of a shard whose sha256 the index recorded
 * reads the whole file once, compares the checksum and serves the rows from that same read; later reads take only
 * the rows asked for. A shard that fails the check, or vanishes mid-read, is refused with one sentence that says
 * what to run. The store (store.ts) decides which rows; this owns the bytes and their verification.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createHash } from 'crypto';
import { ConvfeatError } from '../util/errors';
import { readShardRows } from './shard-file';
import { INDEX_FILE, SHARDS_DIR, type ShardInfo } from './store-index';

/** Rows first..first+count-1 of the shard `info` of the cache `dir` (float32, `dim` per row), as a fresh array. */
export function readRows(dir: string, dim: number, info: ShardInfo, first: number, count: number): Float32Array {
  const file = path.join(dir, SHARDS_DIR, info.name);
  if (!info.verified) {
    // The first read of a shard reads it whole once to check it; its rows come from that same read.
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch {
      throw changedUnderfoot(dir, info.name);
    }
    if (!shaMatches(bytes, info.sha256!)) throw damaged(dir, info.name);
    info.verified = true;
    const start = info.header.offset + first * dim * 4;
    const out = new Float32Array(count * dim);
    new Uint8Array(out.buffer).set(bytes.subarray(start, start + out.byteLength));
    return out;
  }
  try {
    return readShardRows(file, info.header, dim, first, count);
  } catch {
    throw changedUnderfoot(dir, info.name);
  }
}

function damaged(dir: string, name: string): ConvfeatError {
  return new ConvfeatError(
    `The cache ${dir} has a damaged shard ${SHARDS_DIR}/${name} (its sha256 does not match the one in ${INDEX_FILE}: ` +
      'the file was changed, swapped or corrupted on disk); run convfeat extract again with this --cache: it drops that shard and recomputes its rows.',
  );
}

function changedUnderfoot(dir: string, name: string): ConvfeatError {
  return new ConvfeatError(
    `The cache ${dir} changed while it was being read (${name} is gone or unreadable); run the command again.`,
  );
}

function shaMatches(bytes: Uint8Array, sha256: string): boolean {
  return createHash('sha256').update(bytes).digest('hex') === sha256;
}
