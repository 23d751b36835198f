/**
 * Embedding a list of images held by the caller (Buffers or file paths) with no dataset scan and no cache: the core
 * of `featureExtractor(...).embed()`. It takes the same road as `extractDataset` — the same file refusals
 * (readAhead), the same preprocessing pool, the same batched inference — so a photo gives the same floats either
 * way; only the bookkeeping of the store is left out.
 *
 * Rows come back in input order. A demanding caller must be able to map every row to its input, so an image that
 * cannot be used either fails the whole call (default: the error names its index and path) or, with
 * `skipFailures`, is left out and `inputIndex` says which input each row belongs to.
 */
import * as path from 'path';
import type { DatasetItem } from '../dataset/types';
import type { PreprocessPool } from '../preprocess/pool';
import { refusalFromHead, SNIFF_BYTES } from '../preprocess/decode';
import { outputSize } from '../preprocess/spec';
import { ConvfeatError, UsageError } from '../util/errors';
import { param } from '../util/params';
import type { EmbeddingBackbone } from '../backbone/runtime/extractor';
import { readAhead, readReason } from './readAhead';
import { PreprocessFeed } from './extract-feed';
import { BatchInput, embedTensors } from './extract-embed';

/** One image as the caller holds it: encoded bytes, or the path of an image file. */
export type ImageInput = Buffer | Uint8Array | string;

/** N embeddings of D floats, row-major: row i is `data.subarray(i * dim, (i + 1) * dim)`. */
export interface EmbedResult {
  data: Float32Array;
  rows: number;
  dim: number;
  /** For each row, the position of its image in the input array (the identity unless failures were skipped). */
  inputIndex: Int32Array;
  /** Images left out with `skipFailures` (empty otherwise: a failure throws). */
  failures: EmbedFailure[];
}

export interface EmbedFailure {
  /** Position in the input array. */
  index: number;
  /** The path when the input was one. */
  path?: string;
  reason: string;
}

export interface EmbedOptions {
  /** Leave out images that cannot be read or decoded instead of throwing (see `inputIndex`, `failures`). */
  skipFailures?: boolean;
}

/** Thrown by embed() when an image cannot be used; `failures` lists every one, in input order. */
export class EmbedError extends ConvfeatError {
  readonly failures: EmbedFailure[];
  constructor(failures: EmbedFailure[], total: number) {
    const first = failures[0]!;
    const more = failures.length - 1;
    super(
      `Cannot embed images[${first.index}]${first.path !== undefined ? ` (${first.path})` : ''}: ${first.reason}` +
        `${more > 0 ? `; ${more} more of the ${total} images failed too (error.failures lists them)` : ''}` +
        `; fix or remove ${failures.length > 1 ? 'them' : 'it'}, or pass { skipFailures: true } to embed the others.`,
    );
    this.name = 'EmbedError';
    this.failures = failures;
  }
}

/** Checks the `images` argument at the door: an array of Buffers/Uint8Arrays or non-empty path strings. */
export function checkImages(images: unknown): ImageInput[] {
  if (!Array.isArray(images)) {
    throw new UsageError(
      `Expected images to be an array of Buffers or file paths but received ${images === null ? 'null' : typeof images}`,
    );
  }
  images.forEach((image, i) => {
    const ok = image instanceof Uint8Array || (typeof image === 'string' && image.length > 0);
    if (!ok) {
      throw new UsageError(
        `Expected images[${i}] to be a Buffer or a non-empty file path but received ${image === null ? 'null' : typeof image === 'string' ? '""' : typeof image}`,
      );
    }
  });
  return images as ImageInput[];
}

export interface EmbedRun {
  backbone: EmbeddingBackbone;
  /**
   * The caller's pool, opened on first use and kept across calls (workers start once); made with feedPoolOptions,
   * whose `transfer: false` keeps the inputs intact.
   */
  pool: () => PreprocessPool;
  batchSize: number;
  workers: number;
  maxFileBytes: number;
}

export async function embedImages(
  images: readonly ImageInput[],
  run: EmbedRun,
  options: EmbedOptions = {},
): Promise<EmbedResult> {
  const { backbone, batchSize } = run;
  const dim = backbone.identity.dim;
  const size = outputSize(backbone.transform.spec)!;
  const perImage = 3 * size.height * size.width;
  const n = images.length;
  const out = new Float32Array(n * dim);
  const embedded = new Uint8Array(n);
  const failures: EmbedFailure[] = [];
  const fail = (index: number, reason: string): void => {
    const input = images[index];
    failures.push({ index, ...(typeof input === 'string' ? { path: input } : {}), reason });
  };

  // Files are read through the extraction's own reader: the same size limit, the same refusals after 256 bytes.
  const fileItems: DatasetItem[] = [];
  images.forEach((image) => {
    if (typeof image === 'string') fileItems.push({ path: path.resolve(image), relPath: image });
  });
  const files = readAhead(fileItems, { maxFileBytes: run.maxFileBytes });

  // Images preprocessed ahead of the batch being inferred, by extractDataset's own feed: workers decode during `run`.
  const feed = new PreprocessFeed<number>(backbone.transform, run.workers, batchSize, run.pool);
  const input = new BatchInput();
  const flush = async (drain: boolean): Promise<void> => {
    // One batch per call while reading (the window is refilled before the next: the workers always have the next
    // batches to decode while the model runs); every batch left when draining.
    for (let batch = await feed.next(drain); batch; batch = drain ? await feed.next(drain) : undefined) {
      for (const { image, reason } of batch.failed) fail(image, reason);
      if (batch.ok.length === 0) continue;
      const tensors = batch.ok.map((o) => o.tensor);
      const rows = await embedTensors(backbone, tensors, perImage, input);
      feed.recycle(tensors); // copied into the batch: the pool writes later images into them
      batch.ok.forEach(({ image: index }, i) => {
        out.set(rows.subarray(i * dim, (i + 1) * dim), index * dim);
        embedded[index] = 1;
      });
    }
  };

  try {
    for (let index = 0; index < n; index++) {
      const image = images[index]!;
      let bytes: Buffer;
      if (typeof image === 'string') {
        const read = (await files.next()).value!;
        if (read.error !== undefined) {
          fail(index, readReason(read.error));
          continue;
        }
        bytes = read.bytes!;
      } else {
        bytes = Buffer.isBuffer(image) ? image : Buffer.from(image.buffer, image.byteOffset, image.byteLength);
        // The refusals a file gets from its first bytes, so the same bytes fail with the same reason either way.
        const refusal = bytes.length === 0 ? 'empty buffer (0 bytes)' : refusalFromHead(bytes.subarray(0, SNIFF_BYTES));
        if (refusal !== undefined) {
          fail(index, refusal);
          continue;
        }
        if (bytes.length > run.maxFileBytes) {
          fail(
            index,
            `buffer is over the ${run.maxFileBytes / 1024 / 1024} MB limit per image (${param('maxFileMB')})`,
          );
          continue;
        }
      }
      feed.submit(index, bytes);
      if (feed.full) await flush(false);
    }
    await flush(true);
  } finally {
    // An inference error midway: the caller's pool stays open, idle once what is in flight settled, for the next call.
    await feed.close();
    await files.return(undefined);
  }

  failures.sort((a, b) => a.index - b.index);
  if (failures.length > 0 && !options.skipFailures) throw new EmbedError(failures, n);
  // Rows of skipped images are squeezed out; inputIndex keeps the way back to the inputs.
  const inputIndex = new Int32Array(n - failures.length);
  let rows = 0;
  for (let i = 0; i < n; i++) {
    if (!embedded[i]) continue;
    if (rows !== i) out.copyWithin(rows * dim, i * dim, (i + 1) * dim);
    inputIndex[rows++] = i;
  }
  return { data: rows === n ? out : out.slice(0, rows * dim), rows, dim, inputIndex, failures };
}
