/**
 * Extraction's feed: images to compute go to the preprocessing pool, and their tensors come back in submission order,
 * a batch at a time. onnxruntime's `session.run` blocks the event loop for the whole batch, so decoding happens in
 * worker threads that keep working while the main thread is inside `run`: the feed keeps a bounded window of images
 * submitted ahead of the batch being inferred. The window, not the dataset, bounds memory. `extractDataset` and
 * `embedImages` both run on it, so a photo is preprocessed and batched the same way whichever door it came through.
 */
import { PreprocessPool, type PreprocessPoolOptions } from '../preprocess/pool';
import type { TransformOptions } from '../preprocess/options';
import { ConvfeatError, describeError } from '../util/errors';
import { param } from '../util/params';

interface InFlight<T> {
  image: T;
  tensor: Promise<Float32Array>;
}

/** A window's head once its tensors settled: the images to embed, and those that failed with their reason. */
export interface SettledBatch<T> {
  ok: Array<{ image: T; tensor: Float32Array }>;
  failed: Array<{ image: T; reason: string }>;
}

/** Images submitted ahead of the batch being inferred. */
function lookaheadOf(batchSize: number, workers: number): number {
  return batchSize * 2 + workers * 2;
}

/**
 * The pool a feed of this batch size wants. Each worker may hold its share of the look-ahead window, so it keeps
 * decoding while onnxruntime blocks the main thread (bench/README.md: extract/raw 0.83 → 0.89 at one onnxruntime
 * thread). Bytes are copied, not moved: an image in flight on a worker that dies can be retried on a fresh one, and
 * a caller's Buffers stay intact.
 */
export function feedPoolOptions(
  transform: TransformOptions,
  workers: number,
  batchSize: number,
): PreprocessPoolOptions {
  return {
    threads: workers,
    opts: transform,
    transfer: false,
    inFlightPerWorker: Math.max(2, Math.ceil(lookaheadOf(batchSize, workers) / Math.max(1, workers))),
  };
}

export class PreprocessFeed<T> {
  /** Started at the first image to compute: a fully cached run never pays for worker threads loading sharp. */
  private pool: PreprocessPool | undefined;
  private readonly window: Array<InFlight<T>> = [];
  readonly lookahead: number;
  /** Whether close() closes the pool (false: the caller's, kept across runs). */
  private readonly ownsPool: boolean;
  private readonly openPool: () => PreprocessPool;

  /** `pool`: the caller's pool, opened on first use and left open; without it the feed opens and closes its own. */
  constructor(
    transform: TransformOptions,
    workers: number,
    private readonly batchSize: number,
    pool?: () => PreprocessPool,
  ) {
    this.lookahead = lookaheadOf(batchSize, workers);
    this.ownsPool = pool === undefined;
    this.openPool = pool ?? (() => new PreprocessPool(feedPoolOptions(transform, workers, batchSize)));
  }

  submit(image: T, bytes: Buffer): void {
    if (!this.pool) {
      const pool = this.openPool();
      if (!(pool instanceof PreprocessPool) || pool.isClosed) {
        // A caller's pool that cannot take images would fail every one of them, one by one, as if they were bad.
        throw new ConvfeatError(
          `The preprocessing pool given as ${param('pool')} is ${pool instanceof PreprocessPool ? 'closed' : 'not a PreprocessPool'}; pass an open one (new PreprocessPool(feedPoolOptions(...))) or leave ${param('pool')} out.`,
        );
      }
      this.pool = pool;
    }
    const tensor = this.pool.run(bytes);
    tensor.catch(() => undefined); // handled when settled; avoid an unhandled-rejection warning meanwhile
    this.window.push({ image, tensor });
  }

  /** The window is as far ahead as it may go: time to run a batch. */
  get full(): boolean {
    return this.window.length >= this.lookahead;
  }

  /** Up to batchSize images from the head of the window once settled; none while fewer wait, unless `drain`. */
  async next(drain: boolean): Promise<SettledBatch<T> | undefined> {
    if (this.window.length < this.batchSize && !(drain && this.window.length > 0)) return undefined;
    const take = this.window.splice(0, Math.min(this.batchSize, this.window.length));
    const settled = await Promise.allSettled(take.map((p) => p.tensor));
    const batch: SettledBatch<T> = { ok: [], failed: [] };
    settled.forEach((s, i) => {
      const image = take[i]!.image;
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

  /** Closes the feed's own pool; a caller's pool stays open, once what is in flight settled (idle for the next run). */
  async close(): Promise<void> {
    if (this.ownsPool) await this.pool?.close();
    else await Promise.allSettled(this.window.map((p) => p.tensor));
  }
}
