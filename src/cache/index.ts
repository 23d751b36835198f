/**
 * The cache stage's public face (the `cache` namespace of the package root): the embedding store and its lock,
 * extraction into it, loading splits for fitting, and the facts, merge, export and compaction a user runs on it.
 */
export { EmbeddingStore, isContentHash, INDEX_FILE, SHARDS_DIR } from './store';
export type { StoreOptions } from './store';
export { CacheLock, LOCK_FILE } from './lock';
export type { WarningSink } from './lock';
export { META_FILE, readMeta, sameSpace } from './meta';
export type { CacheIdentity, CacheMeta } from './meta';
export {
  ListingWriter,
  readListing,
  readFailures,
  listingClasses,
  countListing,
  forEachListed,
  LISTING_FILE,
  FAILURES_FILE,
} from './listing';
export type { ListingEntry, FailureEntry, ListingWriterOptions } from './listing';
export { loadSplit } from './load';
export type { SplitData } from './load';
export { exportCache } from './export';
export type { ExportOptions, ExportResult } from './export';
export { mergeCaches } from './merge';
export type { MergeResult } from './merge';
export { parseShard, shardOfHash, shardFilter } from './work-shard';
export type { WorkShard } from './work-shard';
export { extractDataset } from './extract';
export type { ExtractOptions, ExtractSummary, EmbeddingBackbone } from './extract';
export { cacheSplits, splitsOf } from './splits';
export { cacheInfo } from './info';
export type { CacheInfo } from './info';
export { compactCache } from './compact';
export type { CompactResult } from './compact';
