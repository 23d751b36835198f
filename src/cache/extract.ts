/**
 * The extraction run: dataset items → bytes and content hash → cache lookup → preprocessing in worker threads →
 * batched inference → the embedding store, batch by batch. Each step has its own module: extract-plan (what to do
 * with each image: read failure, other shard, cached, duplicate, compute), extract-feed (the preprocessing pool and
 * its look-ahead window), extract-embed (one batch through the backbone), extract-record (store rows, listing,
 * counts, callbacks). This file opens the store and the listing, runs the loop and closes them whatever happens.
 */
import type { Dataset, DatasetItem, Split } from '../dataset/types';
import { outputSize } from '../preprocess/spec';
import { defaultPreprocessThreads, type PreprocessPool } from '../preprocess/pool';
import { UsageError } from '../util/errors';
import { integerInRange, invalid } from '../util/validate';
import { param } from '../util/params';
import { EmbeddingStore } from './store';
import type { EmbeddingBackbone } from '../backbone/runtime/extractor';
export type { EmbeddingBackbone };
import { ListingWriter, type FailureEntry } from './listing';
import { shardFilter, type WorkShard } from './work-shard';
import { DEFAULT_MAX_FILE_MB, readAhead } from './readAhead';
import { ExtractPlan, scanProblemFailures } from './extract-plan';
import { PreprocessFeed } from './extract-feed';
import { BatchInput, embedTensors } from './extract-embed';
import { ExtractRecorder, type RunCounts } from './extract-record';
import { BatchWriter } from './batch-writer';

export interface ExtractOptions {
  cacheDir: string;
  /** Images per inference batch; default 8 on CPU, 64 on CUDA (the CLI's). */
  batchSize?: number;
  /** Preprocessing worker threads (0 = in-process); default the CLI's, defaultPreprocessThreads(). */
  workers?: number;
  shard?: WorkShard;
  /** Splits this run covers (listing entries of other splits are kept). */
  splits?: readonly Split[];
  onProgress?: (done: number, total: number) => void;
  /** One line per skipped image (path: reason). */
  onFailure?: (failure: FailureEntry) => void;
  warn?: (line: string) => void;
  /** Write dataset.jsonl/failures.jsonl (default true); predict scores through a cache without replacing its listing. */
  writeListing?: boolean;
  /** Called as embeddings become available (from the cache or freshly computed), e.g. to stream predictions. */
  onEmbedded?: (items: readonly DatasetItem[], rows: Float32Array) => void;
  /** Compact the store when a run leaves more shards than this (default 64). */
  compactAbove?: number;
  /** Files larger than this many MB (MiB) are refused before they are read (default 256). */
  maxFileMB?: number;
  /**
   * The caller's preprocessing pool (made with feedPoolOptions), opened on first use and left open after the run, so
   * that a caller extracting several folders starts its worker threads once (≈ 0.1 s each time otherwise).
   */
  pool?: () => PreprocessPool;
}

/** The run's counts (total, extracted, fromCache, duplicates, failed, otherShard), where and how it ran, its pace. */
export interface ExtractSummary extends RunCounts {
  cache: string;
  provider: string;
  /** How images were preprocessed; 'unused' when every image came from the cache. */
  preprocessing: 'workers' | 'in-process' | 'unused';
  seconds: number;
  imagesPerSecond: number;
  failures: FailureEntry[];
}

/** Batch size when none is given: CPUs barely gain from larger batches; a GPU needs them to be fed. */
export const CPU_BATCH_SIZE = 8;
export const GPU_BATCH_SIZE = 64;

/**
 * The batch size and preprocessing workers a run uses when the caller gives none, for the provider the backbone
 * opened on: the same as the `extract` command's (issue 10: a library call and the CLI do the same work by default).
 */
export function extractDefaults(provider: string, cores?: number): { batchSize: number; workers: number } {
  const onGpu = provider.startsWith('cuda');
  return { batchSize: onGpu ? GPU_BATCH_SIZE : CPU_BATCH_SIZE, workers: defaultPreprocessThreads(onGpu, cores) };
}

export async function extractDataset(
  dataset: Dataset,
  backbone: EmbeddingBackbone,
  opts: ExtractOptions,
): Promise<ExtractSummary> {
  const defaults = extractDefaults(backbone.provider);
  const batchSize = integerInRange(param('batchSize'), opts.batchSize ?? defaults.batchSize, 1, 1024);
  const workers = integerInRange(param('workers'), opts.workers ?? defaults.workers, 0, 64);
  if (opts.pool !== undefined && typeof opts.pool !== 'function') {
    throw invalid(param('pool'), 'a function returning the PreprocessPool to use', opts.pool);
  }
  const maxFileMB = integerInRange(param('maxFileMB'), opts.maxFileMB ?? DEFAULT_MAX_FILE_MB, 1, 1 << 20);
  const started = Date.now();
  const size0 = outputSize(backbone.transform.spec);
  if (!size0) {
    throw new UsageError(
      'The preprocessing gives images of varying size; batched extraction needs a crop or an exact resize.',
    );
  }
  const store = EmbeddingStore.open(opts.cacheDir, { mode: 'write', identity: backbone.identity, warn: opts.warn });
  let listing: ListingWriter;
  try {
    listing = new ListingWriter(store.dir, { replaceSplits: opts.splits });
  } catch (error) {
    store.close(); // release the cache lock: a caller that retries in this process must be able to open it again
    throw error;
  }
  const perImage = 3 * size0.height * size0.width;
  const shard = opts.shard;
  const plan = new ExtractPlan((hash) => store.has(hash), shard ? shardFilter(shard.index, shard.count) : () => true);
  const feed = new PreprocessFeed<{ item: DatasetItem; hash: string }>(
    backbone.transform,
    workers,
    batchSize,
    opts.pool,
  );
  const writeListing = opts.writeListing !== false;
  const writer = new BatchWriter();
  const input = new BatchInput();
  const recorder = new ExtractRecorder(
    store,
    writer,
    listing,
    { writeListing, onProgress: opts.onProgress, onFailure: opts.onFailure, onEmbedded: opts.onEmbedded },
    dataset.items.length + dataset.problems.length,
  );

  // The previous batch's write (shard and index fsyncs in the write thread), awaited before the next one starts so
  // that batches are stored and listed in order; it overlaps the next batch's inference.
  let writing: Promise<void> = Promise.resolve();
  // Runs batches from the head of the feed's window (every image left when draining) and stores their rows.
  const flush = async (drain: boolean): Promise<void> => {
    // One batch per call while reading (the window is refilled before the next: the workers always have the next
    // batches to decode while the model runs); every batch left when draining.
    for (let batch = await feed.next(drain); batch; batch = drain ? await feed.next(drain) : undefined) {
      for (const { image, reason } of batch.failed) {
        for (const twin of plan.settle(image.hash, false)) recorder.failTwin(twin, reason, image.item);
        recorder.failImage(image.item, reason);
      }
      const handled = batch.ok.length + batch.failed.length;
      if (batch.ok.length === 0) {
        recorder.advance(handled, true);
        continue;
      }
      const tensors = batch.ok.map((o) => o.tensor);
      const rows = await embedTensors(backbone, tensors, perImage, input);
      feed.recycle(tensors); // copied into the batch by embedTensors: free for the next images
      await writing;
      const images = batch.ok.map((o) => o.image);
      writing = recorder
        .stored(images, rows, (hash) => plan.settle(hash, true))
        .then(() => recorder.advance(handled, true));
      writing.catch(() => undefined); // awaited before the next batch and at the end
    }
  };

  let completed = false;
  try {
    // Inside the try: whatever fails from here on still releases the lock.
    for (const failure of scanProblemFailures(dataset, opts.splits)) recorder.fail(failure);
    for await (const read of readAhead(dataset.items, { maxFileBytes: maxFileMB * 1024 * 1024 })) {
      const step = plan.classify(read);
      switch (step.kind) {
        case 'unreadable':
          recorder.failImage(step.item, step.reason);
          recorder.advance(1, false);
          break;
        case 'other-shard':
          recorder.otherShard();
          recorder.advance(1, false);
          break;
        case 'cached':
          recorder.cached(step.item, step.hash, step.duplicate);
          recorder.advance(1, true);
          break;
        case 'twin':
          recorder.twin();
          recorder.advance(1, false);
          break;
        case 'compute':
          feed.submit({ item: step.item, hash: step.hash }, step.bytes);
          if (feed.full) await flush(false);
          break;
      }
    }
    await flush(true);
    await writing;
    if (store.shardCount > (opts.compactAbove ?? 64)) store.compact();
    completed = true;
  } finally {
    // The lock is released only once no write is in flight.
    await writing.catch(() => undefined);
    await writer.close();
    await feed.close();
    // A run that fails midway keeps every stored batch (the next run finds them) and the previous listing.
    try {
      if (completed && writeListing) listing.commit();
      else listing.abort();
    } finally {
      store.close();
    }
  }
  const seconds = (Date.now() - started) / 1000;
  const counts = recorder.counts;
  return {
    cache: store.dir,
    provider: backbone.provider,
    preprocessing: feed.mode,
    ...counts,
    seconds,
    imagesPerSecond: counts.extracted > 0 ? counts.extracted / seconds : 0,
    failures: recorder.failures,
  };
}
