/**
 * What a cache holds, read without changing it: the backbone that made it, its rows and shards, the images it lists
 * per split and how many failed. `convfeat cache info` prints it; a program can act on it (resume an extraction,
 * pick the split to score) without parsing the cache's files itself.
 */
import { forEachFailure, countListing } from './listing';
import type { CacheMeta } from './meta';
import { EmbeddingStore } from './store';

export interface CacheInfo extends CacheMeta {
  /** Embedding rows stored (one per distinct image content). */
  rows: number;
  /** Shard files the rows live in; `compactCache` rewrites many small ones into few large ones. */
  shards: number;
  /** Images the listing of the last completed run holds (duplicates of one content count each). */
  listed: number;
  /** Listed images per split; images without a split are counted under `none`. */
  splits: Record<string, number>;
  /** Images that could not be embedded (failures.jsonl). */
  failures: number;
}

/** Reads a cache's facts; refuses a directory that is not a cache (one sentence naming it). */
export function cacheInfo(cacheDir: string): CacheInfo {
  const store = EmbeddingStore.open(cacheDir, { mode: 'read' });
  let rows: number;
  let shards: number;
  try {
    rows = store.size;
    shards = store.shardCount;
  } finally {
    store.close();
  }
  // Streamed: a listing (or failure list) of millions of images is never held.
  const { listed, splits } = countListing(cacheDir);
  let failures = 0;
  forEachFailure(cacheDir, () => failures++);
  return { ...store.meta, rows, shards, listed, splits, failures };
}
