/**
 * The extraction run: dataset items → bytes and content hash → cache lookup → preprocessing in worker threads →
 * batched inference → the embedding store, batch by batch.
 *
 * onnxruntime's `session.run` blocks the event loop for the whole batch, so decoding happens in worker threads that
 * keep working while the main thread is inside `run`: we keep a bounded window of images submitted ahead of the
 * batch being inferred. The window, not the dataset, bounds memory.
 */
import * as path from 'path';
import { sha256Hex } from '../util/hash';
import type { Dataset, DatasetItem, Split } from '../dataset/types';
import { normalizeSplit } from '../dataset/names';
import { PreprocessPool } from '../preprocess';
import { outputSize } from '../preprocess/spec';
import { describeError, UsageError } from '../util/errors';
import { integerInRange } from '../util/validate';
import { EmbeddingStore } from './store';
import type { EmbeddingBackbone } from '../backbone/runtime/extractor';
export type { EmbeddingBackbone };
import { ListingWriter, type FailureEntry } from './listing';
import { shardFilter, type WorkShard } from './work-shard';
import { DEFAULT_MAX_FILE_MB, readAhead, readReason } from './readAhead';

export interface ExtractOptions {
  cacheDir: string;
  batchSize?: number;
  /** Preprocessing worker threads (0 = in-process). */
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
}

export interface ExtractSummary {
  cache: string;
  provider: string;
  /** How images were preprocessed; 'unused' when every image came from the cache. */
  preprocessing: 'workers' | 'in-process' | 'unused';
  total: number;
  extracted: number;
  fromCache: number;
  duplicates: number;
  failed: number;
  otherShard: number;
  seconds: number;
  imagesPerSecond: number;
  failures: FailureEntry[];
}

interface Pending {
  item: DatasetItem;
  hash: string;
  tensor: Promise<Float32Array>;
}

function tile(row: Float32Array, times: number): Float32Array {
  const out = new Float32Array(row.length * times);
  for (let i = 0; i < times; i++) out.set(row, i * row.length);
  return out;
}

export async function extractDataset(
  dataset: Dataset,
  backbone: EmbeddingBackbone,
  opts: ExtractOptions,
): Promise<ExtractSummary> {
  const batchSize = integerInRange('--batch-size', opts.batchSize ?? 8, 1, 1024);
  const workers = integerInRange('--workers', opts.workers ?? 1, 0, 64);
  const maxFileMB = integerInRange('--max-file-size', opts.maxFileMB ?? DEFAULT_MAX_FILE_MB, 1, 1 << 20);
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
  // Started at the first cache miss: a fully cached run never pays for worker threads loading sharp.
  let pool: PreprocessPool | undefined;
  // Each worker may hold its share of the look-ahead window, so it keeps decoding while onnxruntime blocks the main
  // thread (bench/README.md: extract/raw 0.83 → 0.89 at one onnxruntime thread). Bytes are copied, not moved, so an
  // image in flight on a worker that dies can be retried on a fresh one.
  const preprocessPool = (): PreprocessPool =>
    (pool ??= new PreprocessPool({
      threads: workers,
      opts: backbone.transform,
      transfer: false,
      inFlightPerWorker: Math.max(2, Math.ceil(lookahead / Math.max(1, workers))),
    }));
  const perImage = 3 * size0.height * size0.width;
  const shard = opts.shard;
  const inShard = shard ? shardFilter(shard.index, shard.count) : () => true;
  const failures: FailureEntry[] = [];
  const summary = {
    total: dataset.items.length + dataset.problems.length,
    extracted: 0,
    fromCache: 0,
    duplicates: 0,
    failed: 0,
    otherShard: 0,
  };
  // Hashes submitted in this run and not yet stored, with later items of identical bytes: computed once.
  const pendingHashes = new Map<string, DatasetItem[]>();
  const window: Pending[] = [];
  const storedThisRun = new Set<string>();
  const lookahead = batchSize * 2 + workers * 2;
  let done = 0;

  const fail = (item: DatasetItem, reason: string): void => {
    const failure: FailureEntry = { path: item.path, reason, ...(item.split ? { split: item.split } : {}) };
    failures.push(failure);
    if (writeListing) listing.addFailure(failure);
    summary.failed += 1;
    opts.onFailure?.(failure);
  };
  const writeListing = opts.writeListing !== false;
  const record = (item: DatasetItem, hash: string): void => {
    if (writeListing)
      listing.add({
        relPath: item.relPath,
        path: item.path,
        ...(item.rawPath ? { pathBytes: item.rawPath.toString('base64') } : {}),
        label: item.label,
        split: item.split,
        hash,
      });
  };
  const recordProblems = (): void => {
    for (const problem of dataset.problems) {
      // A problem found while scanning belongs to the split whose folder holds it; others are not this run's.
      const top = path.relative(dataset.root, problem.path).split(path.sep)[0] ?? '';
      const split = dataset.kind === 'imagefolder-splits' ? normalizeSplit(top) : undefined;
      if (opts.splits && split && !opts.splits.includes(split)) continue;
      const failure: FailureEntry = { path: problem.path, reason: problem.reason, ...(split ? { split } : {}) };
      failures.push(failure);
      if (writeListing) listing.addFailure(failure);
      summary.failed += 1;
      opts.onFailure?.(failure);
    }
  };

  // Takes up to batchSize finished tensors from the head of the window, runs them, stores them.
  const flush = async (force: boolean): Promise<void> => {
    while (window.length >= batchSize || (force && window.length > 0)) {
      const take = window.splice(0, Math.min(batchSize, window.length));
      const settled = await Promise.allSettled(take.map((p) => p.tensor));
      const ok: Array<{ p: Pending; tensor: Float32Array }> = [];
      settled.forEach((s, i) => {
        const p = take[i]!;
        if (s.status === 'fulfilled') ok.push({ p, tensor: s.value });
        else {
          const reason = describeError(s.reason);
          for (const dup of pendingHashes.get(p.hash) ?? []) {
            summary.duplicates -= 1;
            fail(dup, `${reason} (same bytes as ${p.item.relPath})`);
          }
          pendingHashes.delete(p.hash);
          fail(p.item, reason);
        }
      });
      if (ok.length > 0) {
        const batch = new Float32Array(ok.length * perImage);
        ok.forEach(({ tensor }, i) => batch.set(tensor, i * perImage));
        const rows = await backbone.embed(batch, ok.length);
        store.putBatch(
          ok.map(({ p }) => p.hash),
          rows,
        );
        const dim = rows.length / ok.length;
        ok.forEach(({ p }, i) => {
          const twins = pendingHashes.get(p.hash) ?? [];
          record(p.item, p.hash);
          for (const dup of twins) record(dup, p.hash);
          if (opts.onEmbedded) {
            const row = rows.subarray(i * dim, (i + 1) * dim);
            opts.onEmbedded([p.item, ...twins], twins.length ? tile(row, 1 + twins.length) : row);
          }
          pendingHashes.delete(p.hash);
          storedThisRun.add(p.hash);
          summary.extracted += 1;
        });
      }
      done += take.length;
      opts.onProgress?.(done, summary.total);
    }
  };

  let completed = false;
  try {
    recordProblems(); // inside the try: whatever fails from here on still releases the lock
    for await (const read of readAhead(dataset.items, { maxFileBytes: maxFileMB * 1024 * 1024 })) {
      const item = read.item;
      if (read.error !== undefined) {
        fail(item, readReason(read.error));
        done += 1;
        continue;
      }
      const bytes = read.bytes!;
      const hash = sha256Hex(bytes);
      // A stored row is listed whatever its shard: shard runs one after another into one cache keep each
      // other's images in the listing.
      if (!store.has(hash) && !inShard(hash)) {
        summary.otherShard += 1;
        done += 1;
        continue;
      }
      if (store.has(hash)) {
        // Stored earlier in this very run: a duplicate file, not a cache hit from a previous run.
        if (storedThisRun.has(hash)) summary.duplicates += 1;
        else summary.fromCache += 1;
        record(item, hash);
        if (opts.onEmbedded) opts.onEmbedded([item], store.get(hash)!);
        done += 1;
        opts.onProgress?.(done, summary.total);
        continue;
      }
      const twins = pendingHashes.get(hash);
      if (twins) {
        // Same bytes as an image in flight: its row will serve both, listed once that row is stored.
        twins.push(item);
        summary.duplicates += 1;
        done += 1;
        continue;
      }
      pendingHashes.set(hash, []);
      const tensor = preprocessPool().run(bytes);
      tensor.catch(() => undefined); // handled in flush; avoid an unhandled-rejection warning meanwhile
      window.push({ item, hash, tensor });
      if (window.length >= lookahead) await flush(false);
    }
    await flush(true);
    if (store.shardCount > (opts.compactAbove ?? 64)) store.compact();
    completed = true;
  } finally {
    await pool?.close();
    // A run that fails midway keeps every stored batch (the next run finds them) and the previous listing.
    try {
      if (completed && writeListing) listing.commit();
      else listing.abort();
    } finally {
      store.close();
    }
  }
  const seconds = (Date.now() - started) / 1000;
  return {
    cache: store.dir,
    provider: backbone.provider,
    preprocessing: pool ? pool.mode : 'unused',
    ...summary,
    seconds,
    imagesPerSecond: summary.extracted > 0 ? summary.extracted / seconds : 0,
    failures,
  };
}
