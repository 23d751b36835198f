/**
 * Extraction's feed: images to compute go to the preprocessing pool, and their tensors come back in dataset order,
 * a batch at a time. onnxruntime's `session.run` blocks the event loop for the whole batch, so decoding happens in
 * worker threads that keep working while the main thread is inside `run`: the feed keeps a bounded window of images
 * submitted ahead of the batch being inferred. The window, not the dataset, bounds memory.
 */
import type { DatasetItem } from '../dataset/types';
import { PreprocessPool } from '../preprocess';
import type { TransformOptions } from '../preprocess/options';
import { describeError } from '../util/errors';

export interface InFlight {
  item: DatasetItem;
  hash: string;
  tensor: Promise<Float32Array>;
}

/** A window's head once its tensors settled: the images to embed, and those that failed with their reason. */
export interface SettledBatch {
  ok: Array<{ image: InFlight; tensor: Float32Array }>;
  failed: Array<{ image: InFlight; reason: string }>;
}

export class PreprocessFeed {
  /** Started at the first image to compute: a fully cached run never pays for worker threads loading sharp. */
  private pool: PreprocessPool | undefined;
  private readonly window: InFlight[] = [];
  /** Images submitted ahead of the batch being inferred. */
  readonly lookahead: number;

  constructor(
    private readonly transform: TransformOptions,
    private readonly workers: number,
    private readonly batchSize: number,
  ) {
    this.lookahead = batchSize * 2 + workers * 2;
  }

  submit(item: DatasetItem, hash: string, bytes: Buffer): void {
    // Each worker may hold its share of the look-ahead window, so it keeps decoding while onnxruntime blocks the main
    // thread (bench/README.md: extract/raw 0.83 → 0.89 at one onnxruntime thread). Bytes are copied, not moved, so an
    // image in flight on a worker that dies can be retried on a fresh one.
    this.pool ??= new PreprocessPool({
      threads: this.workers,
      opts: this.transform,
      transfer: false,
      inFlightPerWorker: Math.max(2, Math.ceil(this.lookahead / Math.max(1, this.workers))),
    });
    const tensor = this.pool.run(bytes);
    tensor.catch(() => undefined); // handled when settled; avoid an unhandled-rejection warning meanwhile
    this.window.push({ item, hash, tensor });
  }

  /** The window is as far ahead as it may go: time to run a batch. */
  get full(): boolean {
    return this.window.length >= this.lookahead;
  }

  /** Up to batchSize images from the head of the window once settled; none while fewer wait, unless `drain`. */
  async next(drain: boolean): Promise<SettledBatch | undefined> {
    if (this.window.length < this.batchSize && !(drain && this.window.length > 0)) return undefined;
    const take = this.window.splice(0, Math.min(this.batchSize, this.window.length));
    const settled = await Promise.allSettled(take.map((p) => p.tensor));
    const batch: SettledBatch = { ok: [], failed: [] };
    settled.forEach((s, i) => {
      const image = take[i]!;
      if (s.status === 'fulfilled') batch.ok.push({ image, tensor: s.value });
      else batch.failed.push({ image, reason: describeError(s.reason) });
    });
    return batch;
  }

  /** Tensors already copied into a batch: the pool writes later images into them. */
  recycle(tensors: readonly Float32Array[]): void {
    this.pool?.recycle(tensors);
  }

  /** How images were preprocessed; 'unused' when none had to be. */
  get mode(): 'workers' | 'in-process' | 'unused' {
    return this.pool ? this.pool.mode : 'unused';
  }

  async close(): Promise<void> {
    await this.pool?.close();
  }
}
