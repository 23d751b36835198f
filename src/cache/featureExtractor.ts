/**
 * The one-call door to a frozen backbone, in the style of transformers.js' `pipeline()`:
 *
 *   const fx = await featureExtractor('resnet50');
 *   const { data, rows, dim } = await fx.embed(['a.jpg', bytes]);   // no cache, no dataset scan
 *   await fx.extract('photos/', { cache: 'cache/' });                 // the resumable cache, as `convfeat extract`
 *   await fx.close();                                                 // or `await using fx = ...`
 *
 * Defaults are the CLI's (`convfeat extract`): device auto, fp32, batches of 8 on CPU and 64 on CUDA, preprocessing
 * workers = cores − 1 (at most 4 on CPU), files over 256 MB refused. The model is prepared and its session opened once
 * and reused by every call; calls on one extractor run one after another (onnxruntime runs one inference at a time).
 */
import { openBackbone, prepareBackbone, type OpenBackbone, type PreparedBackbone } from '../backbone/load';
import type { BackboneIdentity } from '../backbone/runtime/extractor';
import { parseDevice } from '../backbone/runtime/session';
import { parsePrecision, type Precision } from '../backbone/quantize/variant';
import { scanDataset, type Dataset, type LayoutOption } from '../dataset';
import { PreprocessPool } from '../preprocess/pool';
import type { ExifMode } from '../preprocess/spec';
import { ConvfeatError } from '../util/errors';
import { param } from '../util/params';
import { integerInRange, invalid, nonEmptyString, oneOf } from '../util/validate';
import { extractDataset, extractDefaults, type ExtractOptions, type ExtractSummary } from './extract';
import { feedPoolOptions } from './extract-feed';
import { DEFAULT_MAX_FILE_MB } from './readAhead';
import { parseShard, type WorkShard } from './work-shard';
import { checkImages, embedImages, type EmbedOptions, type EmbedResult, type ImageInput } from './embedImages';

export interface FeatureExtractorOptions {
  /** auto (default: CUDA when its provider loads, else CPU), cpu, cuda or cuda:N. */
  device?: string;
  /** fp32 (default; reproduces PyTorch) or int8 (the model quantised with its range table). */
  precision?: Precision;
  /** Cut at this node or tensor instead of the input of the last fully connected layer. */
  layer?: string;
  /** For your own .onnx file: torchvision (default), caffe, or a JSON preprocessing spec file. */
  preprocess?: string;
  /** Where manifest models are stored (default: CONVFEAT_MODEL_DIR, else the package's onnx/ folder). */
  storeDir?: string;
  /** Images per inference call (default 8 on CPU, 64 on CUDA). */
  batchSize?: number;
  /** Preprocessing worker threads; 0 = in-process (default: cores − 1, at most 4 on CPU). */
  workers?: number;
  /** onnxruntime intra-op threads (default: one per core). */
  threads?: number;
  /** Apply EXIF orientation (default) or ignore it (torchvision parity). */
  exif?: ExifMode;
  /** Refuse images above this many pixels (default 100 million). */
  maxPixels?: number;
  /** Refuse files over this many MB before reading them (default 256). */
  maxFileMB?: number;
  /** Progress and fallback notes (default: silent). */
  log?: (line: string) => void;
}

export interface ExtractCallOptions {
  /** The cache folder (created if missing; reused and extended if present). */
  cache: string;
  /** Only this split of a train/val/test folder. */
  split?: string;
  layout?: LayoutOption;
  /** Part i/n of the images (by content hash), e.g. '0/4'. */
  shard?: string | WorkShard;
  onProgress?: (done: number, total: number) => void;
  onFailure?: ExtractOptions['onFailure'];
}

export interface ExtractCallSummary extends ExtractSummary {
  model: string;
  fingerprint: string;
  dim: number;
}

export interface FeatureExtractor {
  /** Manifest name (or file name) of the backbone, with @int8 for int8. */
  readonly model: string;
  /** Embedding size. */
  readonly dim: number;
  /** The layer the graph was cut at. */
  readonly layer: string;
  /** Model and preprocessing fingerprints: what a cache and a classifier record, and check. */
  readonly identity: BackboneIdentity;
  /** 'cpu', 'cuda' or 'cuda:N'. */
  readonly provider: string;
  /** Images (encoded bytes or file paths) → embeddings in input order; an unusable image throws (EmbedError). */
  embed(images: readonly ImageInput[], options?: EmbedOptions): Promise<EmbedResult>;
  /** A folder, manifest or scanned Dataset → the resumable embedding cache, exactly as `convfeat extract`. */
  extract(dataset: string | Dataset, options: ExtractCallOptions): Promise<ExtractCallSummary>;
  /** Releases the onnxruntime session and the preprocessing workers; later calls throw. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

interface Checked {
  device: string;
  batchSize?: number;
  workers?: number;
  threads?: number;
  exif: ExifMode;
  maxPixels?: number;
  maxFileMB: number;
}

function checkOptions(options: FeatureExtractorOptions): Checked {
  if (typeof options !== 'object' || options === null) throw invalid('options', 'an object', options);
  const device = options.device ?? 'auto';
  try {
    parseDevice(device);
  } catch {
    throw invalid(param('device'), 'auto, cpu, cuda or cuda:N', device);
  }
  if (options.precision !== undefined) parsePrecision(options.precision);
  if (options.log !== undefined && typeof options.log !== 'function') throw invalid('log', 'a function', options.log);
  const optionalInt = (name: keyof FeatureExtractorOptions, min: number, max: number): number | undefined =>
    options[name] === undefined ? undefined : integerInRange(param(name), options[name], min, max);
  return {
    device,
    batchSize: optionalInt('batchSize', 1, 1024),
    workers: optionalInt('workers', 0, 64),
    threads: optionalInt('threads', 1, 1024),
    exif: oneOf(param('exif'), options.exif ?? 'apply', ['apply', 'ignore'] as const),
    maxPixels: optionalInt('maxPixels', 1, 2 ** 40),
    maxFileMB: optionalInt('maxFileMB', 1, 1 << 20) ?? DEFAULT_MAX_FILE_MB,
  };
}

/**
 * Opens the backbone named by `model` (a known model such as 'resnet50', 'resnet50@int8', a classical extractor, or
 * a path to an ONNX image classifier) for embedding.
 */
export async function featureExtractor(
  model: string,
  options: FeatureExtractorOptions = {},
): Promise<FeatureExtractor> {
  nonEmptyString(param('model'), model);
  const checked = checkOptions(options);
  const prepared = await prepareBackbone({
    model,
    ...(options.layer !== undefined ? { layer: options.layer } : {}),
    ...(options.preprocess !== undefined ? { preprocess: options.preprocess } : {}),
    ...(options.storeDir !== undefined ? { storeDir: options.storeDir } : {}),
    ...(options.precision !== undefined ? { precision: options.precision } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  return openFeatureExtractor(prepared, checked, options.log);
}

/** For doors that prepared the backbone themselves (classifierPipeline matches it to a classifier first). */
export async function featureExtractorFor(
  prepared: PreparedBackbone,
  options: Omit<FeatureExtractorOptions, 'layer' | 'preprocess' | 'storeDir' | 'precision'> = {},
): Promise<FeatureExtractor> {
  return openFeatureExtractor(prepared, checkOptions(options), options.log);
}

async function openFeatureExtractor(
  prepared: PreparedBackbone,
  checked: Checked,
  log: ((line: string) => void) | undefined,
): Promise<FeatureExtractor> {
  const backbone: OpenBackbone = await openBackbone(prepared, {
    device: checked.device,
    exif: checked.exif,
    ...(checked.threads !== undefined ? { threads: checked.threads } : {}),
    ...(checked.maxPixels !== undefined ? { maxPixels: checked.maxPixels } : {}),
    ...(log ? { log } : {}),
  });
  // The CLI's defaults, decided once the provider is known: a GPU is fed by decoding on every core and larger batches.
  const defaults = extractDefaults(backbone.provider);
  const batchSize = checked.batchSize ?? defaults.batchSize;
  const workers = checked.workers ?? defaults.workers;
  const maxFileBytes = checked.maxFileMB * 1024 * 1024;

  let pool: PreprocessPool | undefined;
  const getPool = (): PreprocessPool =>
    (pool ??= new PreprocessPool(feedPoolOptions(backbone.transform, workers, batchSize))); // leaves Buffers intact

  let closed = false;
  // One call at a time: onnxruntime runs one inference per session, and extract/embed share it.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(job: () => Promise<T>): Promise<T> => {
    if (closed) return Promise.reject(new ConvfeatError(`The feature extractor for ${prepared.name} is closed.`));
    const result = queue.then(job);
    queue = result.catch(() => undefined);
    return result;
  };

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await queue;
    await pool?.close();
    pool = undefined;
    await backbone.close();
  };

  return {
    model: prepared.name,
    dim: backbone.identity.dim,
    layer: prepared.layer,
    identity: { ...backbone.identity },
    provider: backbone.provider,
    embed: (images, embedOptions = {}) => {
      let checkedImages: ImageInput[];
      try {
        checkedImages = checkImages(images);
      } catch (e) {
        return Promise.reject(e);
      }
      return serial(() =>
        embedImages(checkedImages, { backbone, pool: getPool, batchSize, workers, maxFileBytes }, embedOptions),
      );
    },
    extract: (dataset, extractOptions) =>
      serial(async () => {
        if (typeof extractOptions !== 'object' || extractOptions === null)
          throw invalid('options', 'an object with a cache folder', extractOptions);
        const cacheDir = nonEmptyString(param('cache'), extractOptions.cache);
        const shard =
          typeof extractOptions.shard === 'string'
            ? parseShard(extractOptions.shard, param('shard'))
            : extractOptions.shard;
        const data =
          typeof dataset === 'string'
            ? await scanDataset(dataset, {
                ...(extractOptions.split !== undefined ? { split: extractOptions.split } : {}),
                layout: extractOptions.layout ?? 'auto',
                inputName: 'dataset',
              })
            : dataset;
        // As the CLI: a run over some splits replaces only their listing entries.
        const splits = [...new Set(data.items.map((i) => i.split).filter((s) => s !== undefined))];
        const summary = await extractDataset(data, backbone, {
          cacheDir,
          batchSize,
          workers,
          maxFileMB: checked.maxFileMB,
          pool: getPool, // the same workers as embed and earlier extract calls: they start once
          ...(shard ? { shard } : {}),
          ...(extractOptions.split !== undefined || splits.length > 0 ? { splits } : {}),
          ...(extractOptions.onProgress ? { onProgress: extractOptions.onProgress } : {}),
          ...(extractOptions.onFailure ? { onFailure: extractOptions.onFailure } : {}),
          ...(log ? { warn: log } : {}),
        });
        return { ...summary, model: prepared.name, fingerprint: prepared.fingerprint, dim: backbone.identity.dim };
      }),
    close,
    [Symbol.asyncDispose]: close,
  };
}
