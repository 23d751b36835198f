/**
 * Compaction of a cache's rows (EmbeddingStore.compact in store.ts): the stored rows, streamed one shard at a time,
 * are rewritten into few large shards and a fresh index. Each step is atomic (durable.ts), and the new index only
 * replaces the old one once every new shard is on disk, so a kill in between leaves only files no index line uses,
 * which the next writer removes. The crash points compact-shard-* and compact-index-* sit in that order.
 */
import * as path from 'path';
import { npyHeader } from '../util/npy';
import { ChunkedFileWriter, writeDurable } from './durable';
import { rowLine, shardLine } from './index-file';
import { INDEX_FILE, SHARDS_DIR } from './store-index';

/** Compaction targets shards of about this many bytes: few files, yet one shard is cheap to hold in memory. */
const COMPACT_SHARD_BYTES = 64 * 1024 * 1024;

/** What compaction needs of the store: its rows shard by shard, and fresh shard names. */
export interface CompactSource {
  readonly dir: string;
  readonly dim: number;
  /** Rows stored, and shard files they sit in now. */
  readonly size: number;
  readonly shardCount: number;
  shards(): Iterable<{ hashes: string[]; rows: Float32Array }>;
  allocateShardName(): string;
}

/**
 * Rewrites the rows into shards of about COMPACT_SHARD_BYTES and replaces the index, when that lowers the shard
 * count; returns whether it did (the caller then reloads its index). The old shard files stay for the caller.
 */
export function rewriteShards(store: CompactSource): boolean {
  const dim = store.dim;
  const perShard = Math.max(1, Math.floor(COMPACT_SHARD_BYTES / (dim * 4)));
  const target = Math.ceil(store.size / perShard);
  if (store.shardCount <= target) return false;
  const index = new ChunkedFileWriter(path.join(store.dir, INDEX_FILE), 'compact-index');
  try {
    let buffer = new Float32Array(Math.min(perShard, store.size) * dim);
    let pending: string[] = [];
    const flush = (): void => {
      if (pending.length === 0) return;
      const name = store.allocateShardName();
      const data = buffer.subarray(0, pending.length * dim);
      const parts = [npyHeader('<f4', [pending.length, dim]), new Uint8Array(data.buffer, 0, data.byteLength)];
      const sha256 = writeDurable(path.join(store.dir, SHARDS_DIR, name), parts, 'compact-shard', 'the shard');
      index.add(shardLine(name, pending.length, sha256));
      pending.forEach((h, r) => index.add(rowLine(h, name, r)));
      pending = [];
    };
    for (const shard of store.shards()) {
      for (let k = 0; k < shard.hashes.length; k++) {
        buffer.set(shard.rows.subarray(k * dim, (k + 1) * dim), pending.length * dim);
        pending.push(shard.hashes[k]!);
        if (pending.length === perShard) flush();
      }
    }
    flush();
    buffer = new Float32Array(0);
    index.commit();
  } finally {
    index.abort();
  }
  return true;
}
