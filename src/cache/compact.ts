/**
 * Rewrites a cache into few large shards. Resumed and sharded extractions leave one shard per run or per batch
 * flush; loading reads every shard file, so thousands of small ones cost seeks and file handles. Compaction keeps
 * every row and the cache's identity; it holds the cache's write lock, so it never runs beside an extraction.
 */
import { ConvfeatError } from '../util/errors';
import { param } from '../util/params';
import { readMeta } from './meta';
import { EmbeddingStore } from './store';

export interface CompactResult {
  shardsBefore: number;
  shardsAfter: number;
  /** Shard files deleted once the new ones were committed. */
  removedFiles: number;
}

export function compactCache(cacheDir: string): CompactResult {
  const meta = readMeta(cacheDir);
  if (!meta) throw new ConvfeatError(`${cacheDir} is not a convfeat cache; check the ${param('cacheDir')} path.`);
  const store = EmbeddingStore.open(cacheDir, { mode: 'write', identity: meta });
  try {
    return store.compact();
  } finally {
    store.close();
  }
}
