/**
 * A fitted classifier as one callable, in the style of transformers.js' `pipeline('image-classification')`:
 *
 *   const clf = await classifierPipeline('clf.json');
 *   const [p] = await clf(['photo.jpg']);        // { index: 0, path: 'photo.jpg', label: 'cat', score: 0.98, top: [...] }
 *   await clf.close();                           // or `await using clf = ...`
 *
 * The backbone is the one the classifier records (backboneForClassifier refuses any other with the same sentence as
 * `convfeat predict`); images go through featureExtractor's embed (no cache), and the scores are the classifier's
 * probabilities with the same top-k order as `convfeat predict` (best first, ties by class order).
 */
import * as path from 'path';
import { featureExtractorFor, type FeatureExtractor } from '../cache/featureExtractor';
import type { ImageInput } from '../cache/embedImages';
import { scanDataset, type Dataset, type LayoutOption } from '../dataset';
import { loadClassifier, LinearClassifier } from '../linear';
import type { Precision } from '../backbone/quantize/variant';
import { invalid, integerInRange } from '../util/validate';
import { defaultPreprocessThreads } from '../preprocess/pool';
import { param } from '../util/params';
import { backboneForClassifier, predictDataset, type Prediction, type PredictSummary } from './predict';

export interface ClassifierPipelineOptions {
  /** The backbone .onnx file, when the classifier was trained on your own model rather than a known one. */
  model?: string;
  layer?: string;
  preprocess?: string;
  /** fp32 or int8; unset: the precision the classifier was trained with. */
  precision?: Precision;
  /** Where manifest models are stored (default: the package's onnx/ folder, or CONVFEAT_MODEL_DIR). */
  storeDir?: string;
  /** auto (default), cpu, cuda or cuda:N. */
  device?: string;
  threads?: number;
  /** Images per inference call (default 8 on CPU, 64 on CUDA). */
  batchSize?: number;
  /** Preprocessing worker threads (default: cores − 1, at most 4 on CPU). */
  workers?: number;
  /** Labels per image in `top` (default 1, like `convfeat predict --top-k`). */
  topK?: number;
  maxPixels?: number;
  maxFileMB?: number;
  log?: (line: string) => void;
}

export interface ClassifierPrediction {
  /** Position of the image in the input array. */
  index: number;
  /** The input path, when the image was given as one. */
  path?: string;
  /** The most probable class and its probability (= top[0]). */
  label: string;
  score: number;
  /** The topK most probable classes, best first. */
  top: Array<{ label: string; score: number }>;
}

export interface ClassifyOptions {
  /** Overrides the pipeline's topK for this call. */
  topK?: number;
  /** Leave out images that cannot be read or decoded (their index is missing) instead of throwing. */
  skipFailures?: boolean;
}

export interface ClassifierPipeline {
  /** Images (encoded bytes or file paths) → one prediction per image, in input order. */
  (images: readonly ImageInput[], options?: ClassifyOptions): Promise<ClassifierPrediction[]>;
  readonly classes: readonly string[];
  readonly classifier: LinearClassifier;
  /** The backbone the classifier was trained on, open; its embed() gives the rows the classifier scores. */
  readonly extractor: FeatureExtractor;
  /**
   * A folder or manifest scored through an embedding cache exactly as `convfeat predict` (images seen before cost
   * nothing when `cache` is given; a temporary cache otherwise); unusable images are reported, not thrown.
   */
  predictDataset(
    dataset: string | Dataset,
    options?: { cache?: string; layout?: LayoutOption; topK?: number },
  ): Promise<{ predictions: Prediction[]; failures: Array<{ path: string; reason: string }>; summary: PredictSummary }>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The k best classes of row i of an N × K matrix, best first, ties by class order (as `convfeat predict`). */
function topOf(proba: Float32Array, i: number, classes: readonly string[], k: number) {
  const K = classes.length;
  const order = Array.from({ length: K }, (_, c) => c).sort((a, b) => proba[i * K + b]! - proba[i * K + a]! || a - b);
  return order.slice(0, k).map((c) => ({ label: classes[c]!, score: proba[i * K + c]! }));
}

/**
 * Opens a classifier (a file written by `convfeat fit-linear` / saveClassifier, or a fitted LinearClassifier) with
 * the backbone it was trained on.
 */
export async function classifierPipeline(
  classifier: string | LinearClassifier,
  options: ClassifierPipelineOptions = {},
): Promise<ClassifierPipeline> {
  if (typeof options !== 'object' || options === null) throw invalid('options', 'an object', options);
  let clf: LinearClassifier;
  if (typeof classifier === 'string') clf = loadClassifier(classifier);
  else if (classifier instanceof LinearClassifier) clf = classifier;
  else throw invalid('classifier', 'a classifier file path or a fitted LinearClassifier', classifier);
  if (!clf.fitted) throw invalid('classifier', 'a fitted LinearClassifier', 'an unfitted one');
  const K = clf.classes.length;
  const checkTopK = (value: unknown): number => integerInRange(param('topK'), value, 1, K);
  const defaultTopK = checkTopK(options.topK ?? 1);

  const { prepared, exif } = await backboneForClassifier(clf, {
    ...(options.model !== undefined ? { model: options.model } : {}),
    ...(options.layer !== undefined ? { layer: options.layer } : {}),
    ...(options.preprocess !== undefined ? { preprocess: options.preprocess } : {}),
    ...(options.precision !== undefined ? { precision: options.precision } : {}),
    ...(options.storeDir !== undefined ? { storeDir: options.storeDir } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  const extractor = await featureExtractorFor(prepared, {
    exif,
    ...(options.device !== undefined ? { device: options.device } : {}),
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
    ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
    ...(options.workers !== undefined ? { workers: options.workers } : {}),
    ...(options.maxPixels !== undefined ? { maxPixels: options.maxPixels } : {}),
    ...(options.maxFileMB !== undefined ? { maxFileMB: options.maxFileMB } : {}),
    ...(options.log ? { log: options.log } : {}),
  });

  const classify = async (images: readonly ImageInput[], call: ClassifyOptions = {}) => {
    const topK = call.topK === undefined ? defaultTopK : checkTopK(call.topK);
    const rows = await extractor.embed(images, { skipFailures: call.skipFailures === true });
    const proba = clf.predictProba(rows);
    return Array.from(rows.inputIndex, (index, i): ClassifierPrediction => {
      const top = topOf(proba, i, clf.classes, topK);
      const input = images[index];
      return { index, ...(typeof input === 'string' ? { path: input } : {}), ...top[0]!, top };
    });
  };

  const scoreDataset: ClassifierPipeline['predictDataset'] = async (dataset, call = {}) => {
    const data =
      typeof dataset === 'string'
        ? await scanDataset(dataset, { layout: call.layout ?? 'auto', inputName: 'dataset' })
        : dataset;
    const predictions: Prediction[] = [];
    const failures: Array<{ path: string; reason: string }> = [];
    const summary = await predictDataset(clf, data, {
      ...(options.model !== undefined ? { model: options.model } : {}),
      ...(options.layer !== undefined ? { layer: options.layer } : {}),
      ...(options.preprocess !== undefined ? { preprocess: options.preprocess } : {}),
      // The precision the extractor runs at, which backboneForClassifier settled (also for a recorded NAME@int8).
      precision: prepared.precision,
      ...(call.cache !== undefined ? { cacheDir: path.resolve(call.cache) } : {}),
      device: extractor.provider.startsWith('cuda') ? extractor.provider : 'cpu',
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
      ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
      // As `convfeat predict`: workers default to cores − 1 (at most 4).
      workers: options.workers ?? defaultPreprocessThreads(),
      ...(options.maxFileMB !== undefined ? { maxFileMB: options.maxFileMB } : {}),
      topK: call.topK === undefined ? defaultTopK : checkTopK(call.topK),
      onPrediction: (p) => predictions.push(p),
      onFailure: (f) => failures.push(f),
      ...(options.log ? { log: options.log } : {}),
    });
    return { predictions, failures, summary };
  };

  const close = () => extractor.close();
  return Object.assign(classify, {
    classes: clf.classes,
    classifier: clf,
    extractor,
    predictDataset: scoreDataset,
    close,
    [Symbol.asyncDispose]: close,
  });
}
