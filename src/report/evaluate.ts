/**
 * Evaluating a classifier on a cache split: refuses embeddings from another backbone or preprocessing, then
 * computes the metrics scikit-learn users expect.
 */
import { param } from '../util/params';
import { cacheSplits, loadSplit } from '../cache';
import { LinearClassifier } from '../linear';
import { ConvfeatError, UsageError } from '../util/errors';
import { classificationMetrics, type ClassificationMetrics } from './metrics';
import { toEmbeddings } from '../util/embeddings';

export interface EvaluationResult {
  split: string;
  metrics: ClassificationMetrics;
  /** Row-aligned with metrics: what each image was and what the classifier said. */
  paths: string[];
  yTrue: Int32Array;
  yPred: Int32Array;
  probabilities: Float32Array;
}

/** Checks a classifier against a cache's identity; the sentence says what to do. */
export function assertCompatible(
  clf: LinearClassifier,
  meta: { model: string; modelFingerprint: string; preprocessFingerprint: string; dim: number },
): void {
  clf.assertBackbone(meta.modelFingerprint, meta.model);
  if (clf.preprocessFingerprint && clf.preprocessFingerprint !== meta.preprocessFingerprint) {
    throw new ConvfeatError(
      `The classifier was trained on embeddings made with other preprocessing (${clf.preprocessFingerprint}) than this cache's (${meta.preprocessFingerprint}); extract with the same ${param('exif')} and model settings or refit.`,
    );
  }
  if (clf.dim !== meta.dim) {
    throw new ConvfeatError(
      `The classifier expects ${clf.dim}-d embeddings but the cache holds ${meta.dim}-d ones; use the cache it was trained on or refit.`,
    );
  }
}

/**
 * What evaluate scores when no split is named: test when the cache has splits, every image when it has none. A cache
 * with splits but no test is refused rather than scoring the training images.
 */
function defaultSplit(cacheDir: string): string | undefined {
  const splits: string[] = cacheSplits(cacheDir);
  if (splits.length === 0 || splits.includes('test')) return splits.length ? 'test' : undefined;
  throw new UsageError(
    `The cache ${cacheDir} has split${splits.length > 1 ? 's' : ''} ${splits.join(', ')} but no test split; pass ${param('split')} ${splits.includes('val') ? 'val' : splits[0]} to score one of them, or extract a test split.`,
  );
}

export function evaluateOnCache(
  clf: LinearClassifier,
  cacheDir: string,
  split?: string,
  topK: number[] = [1, 5],
  exclude?: ReadonlySet<string>,
): EvaluationResult {
  const chosen = split ?? defaultSplit(cacheDir);
  // exclude: relPaths or paths to leave out (e.g. the leaked duplicates listed by convfeat audit's issues.csv).
  const data = loadSplit(cacheDir, chosen, exclude ? { exclude } : {});
  assertCompatible(clf, data.meta);
  // Class ids of the cache and of the classifier may differ (a class absent from one side): map by name.
  const ids = new Map(clf.classes.map((c, i) => [c, i]));
  const yTrue = new Int32Array(data.y.length);
  for (let i = 0; i < data.y.length; i++) {
    if (data.y[i] < 0) {
      throw new ConvfeatError(
        `Image ${data.relPaths[i]} has no label; evaluate needs labelled images (use predict to score unlabelled ones).`,
      );
    }
    const id = ids.get(data.classes[data.y[i]]!);
    if (id === undefined) {
      throw new ConvfeatError(
        `The cache has class ${JSON.stringify(data.classes[data.y[i]])}, which the classifier was not trained on (it knows ${clf.classes.join(', ')}).`,
      );
    }
    yTrue[i] = id;
  }
  const probabilities = clf.predictProba(toEmbeddings(data.X, data.dim));
  const K = clf.classes.length;
  const yPred = new Int32Array(yTrue.length);
  for (let i = 0; i < yPred.length; i++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (probabilities[i * K + k]! > probabilities[i * K + best]!) best = k;
    yPred[i] = best;
  }
  const metrics = classificationMetrics(yTrue, yPred, clf.classes, {
    scores: probabilities,
    topK: topK.filter((k) => k <= K),
  });
  return { split: chosen ?? 'all', metrics, paths: data.paths, yTrue, yPred, probabilities };
}
