/**
 * A writer's check of every shard on open (on resume): each shard is read once, whole, its sha256 compared with
 * the one recorded in the index, and its rows scanned for NaN or infinite values. Damaged shards and non-finite
 * rows are dropped from the store's map so the next extract recomputes them. Memory stays at one shard.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createHash } from 'crypto';
import type { ShardInfo } from './store-index';

export interface ScanResult {
  damagedShards: number[];
  /** Keys (of the store's map) whose rows sit in damaged shards. */
  damagedKeys: Set<string>;
  /** Every key to drop: those of damaged shards and those with a non-finite row. */
  droppedKeys: string[];
  nonFinite: number;
}

export function scanShards(
  dir: string,
  shardsDir: string,
  dim: number,
  shards: ShardInfo[],
  ids: ReadonlyMap<string, number>,
  shardOf: Int32Array,
  rowOf: Int32Array,
): ScanResult {
  const damaged = new Uint8Array(shards.length);
  // Per shard, the rows holding a non-finite value (only built for shards that have one).
  const badRows = new Map<number, Set<number>>();
  shards.forEach((info, s) => {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(path.join(dir, shardsDir, info.name));
    } catch {
      damaged[s] = 1; // vanished since the header was read: nothing to trust
      return;
    }
    if (info.sha256 !== undefined && createHash('sha256').update(bytes).digest('hex') !== info.sha256) {
      damaged[s] = 1;
      return;
    }
    info.verified = true;
    const { rows, offset } = info.header;
    // Copy into an aligned array: the header length makes the data offset a multiple of 64, but Buffer pools do not
    // promise the buffer's own alignment.
    const data = new Float32Array(rows * dim);
    new Uint8Array(data.buffer).set(bytes.subarray(offset, offset + data.byteLength));
    for (let r = 0; r < rows; r++) {
      for (let j = r * dim, end = j + dim; j < end; j++) {
        if (!Number.isFinite(data[j]!)) {
          let set = badRows.get(s);
          if (!set) badRows.set(s, (set = new Set()));
          set.add(r);
          break;
        }
      }
    }
  });
  const damagedShards: number[] = [];
  damaged.forEach((d, s) => d && damagedShards.push(s));
  const damagedKeys = new Set<string>();
  const droppedKeys: string[] = [];
  let nonFinite = 0;
  if (damagedShards.length === 0 && badRows.size === 0) return { damagedShards, damagedKeys, droppedKeys, nonFinite };
  for (const [key, id] of ids) {
    const s = shardOf[id]!;
    if (damaged[s]) {
      damagedKeys.add(key);
      droppedKeys.push(key);
    } else if (badRows.get(s)?.has(rowOf[id]!)) {
      droppedKeys.push(key);
      nonFinite++;
    }
  }
  // A damaged shard no live row uses is not worth a warning, but it is still removed.
  return { damagedShards, damagedKeys, droppedKeys, nonFinite };
}
