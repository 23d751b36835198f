/**
 * Extraction's record step: what a run writes and reports. Rows are durable in the embedding store before any
 * listing entry names them (a run killed in between leaves stored rows that the next run finds, never a listed image without a
 * row); the listing (dataset.jsonl, failures.jsonl) is committed by the caller only when the run completes. The
 * counts and the caller's callbacks follow the same order.
 */
import type { DatasetItem } from '../dataset/types';
import type { ListingWriter, FailureEntry } from './listing';
import type { EmbeddingStore } from './store';
import type { BatchWriter } from './batch-writer';

export interface RunCounts {
  total: number;
  extracted: number;
  fromCache: number;
  duplicates: number;
  failed: number;
  otherShard: number;
}

export interface RecordOptions {
  /** Write listing entries (false: predict scores through a cache without replacing its listing). */
  writeListing: boolean;
  onProgress?: (done: number, total: number) => void;
  onFailure?: (failure: FailureEntry) => void;
  onEmbedded?: (items: readonly DatasetItem[], rows: Float32Array) => void;
}

function tile(row: Float32Array, times: number): Float32Array {
  const out = new Float32Array(row.length * times);
  for (let i = 0; i < times; i++) out.set(row, i * row.length);
  return out;
}

export class ExtractRecorder {
  readonly counts: RunCounts;
  readonly failures: FailureEntry[] = [];
  private done = 0;

  constructor(
    private readonly store: EmbeddingStore,
    private readonly writer: BatchWriter,
    private readonly listing: ListingWriter,
    private readonly opts: RecordOptions,
    total: number,
  ) {
    this.counts = { total, extracted: 0, fromCache: 0, duplicates: 0, failed: 0, otherShard: 0 };
  }

  /** A failure found before any image was read (a scan problem) or while reading or preprocessing one. */
  fail(failure: FailureEntry): void {
    this.failures.push(failure);
    if (this.opts.writeListing) this.listing.addFailure(failure);
    this.counts.failed += 1;
    this.opts.onFailure?.(failure);
  }

  failImage(item: DatasetItem, reason: string): void {
    this.fail({ path: item.path, reason, ...(item.split ? { split: item.split } : {}) });
  }

  /** A twin fails with the image whose bytes it shares; it was counted as a duplicate when it arrived. */
  failTwin(twin: DatasetItem, reason: string, of: DatasetItem): void {
    this.counts.duplicates -= 1;
    this.failImage(twin, `${reason} (same bytes as ${of.relPath})`);
  }

  otherShard(): void {
    this.counts.otherShard += 1;
  }

  twin(): void {
    this.counts.duplicates += 1;
  }

  /** Served from the store: a duplicate when stored earlier in this very run, else a cache hit. */
  cached(item: DatasetItem, hash: string, duplicate: boolean): void {
    if (duplicate) this.counts.duplicates += 1;
    else this.counts.fromCache += 1;
    this.list(item, hash);
    if (this.opts.onEmbedded) this.opts.onEmbedded([item], this.store.get(hash)!);
  }

  /**
   * Rows of one batch, in the order of `images`: made durable first (in the write thread, while the caller infers
   * the next batch), then committed to the store, listed and handed on. `settle` gives the files of identical bytes
   * that waited for each row; it is called only once the row is stored, so a twin that arrives meanwhile still waits.
   */
  async stored(
    images: ReadonlyArray<{ item: DatasetItem; hash: string }>,
    rows: Float32Array,
    settle: (hash: string) => readonly DatasetItem[],
  ): Promise<void> {
    const prepared = this.store.prepareBatch(
      images.map((c) => c.hash),
      rows,
    );
    if (prepared) this.store.commitBatch(prepared, await this.writer.write(prepared.files));
    const dim = rows.length / images.length;
    images.forEach(({ item, hash }, i) => {
      const twins = settle(hash);
      this.list(item, hash);
      for (const dup of twins) this.list(dup, hash);
      if (this.opts.onEmbedded) {
        const row = rows.subarray(i * dim, (i + 1) * dim);
        this.opts.onEmbedded([item, ...twins], twins.length ? tile(row, 1 + twins.length) : row);
      }
      this.counts.extracted += 1;
    });
  }

  /** n more images handled; `report` calls onProgress (not every step does, as before the split). */
  advance(n: number, report: boolean): void {
    this.done += n;
    if (report) this.opts.onProgress?.(this.done, this.counts.total);
  }

  private list(item: DatasetItem, hash: string): void {
    if (this.opts.writeListing)
      this.listing.add({
        relPath: item.relPath,
        path: item.path,
        ...(item.rawPath ? { pathBytes: item.rawPath.toString('base64') } : {}),
        label: item.label,
        split: item.split,
        hash,
      });
  }
}
