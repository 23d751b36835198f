/**
 * What `fit` does once the door has checked its inputs: scale, train (with the C search when C is 'auto'),
 * calibrate, measure, and return everything learned as one frozen state (./fitted.ts).
 */
import { createHash } from 'crypto';
import { ConvfeatError } from '../util/errors';
import { convfeatVersion } from '../util/version';
import { fitTemperature } from './calibration';
import { allRows, classWeights } from './data';
import { deepFreeze, plainCopy, type BackboneIdentity, type FitMetrics, type FittedState } from './fitted';
import type { Provenance } from './format';
import { DEFAULT_MAX_ITER, DEFAULT_TOL, type LinearClassifierParams } from './hyperparams';
import { assertMlSvmSize } from './mlsvm';
import { defaultThreads } from './pool';
import { Scaler } from './scaler';
import { CSearchResult, defaultCGrid, searchC } from './search';
import { TrainingCurvePoint } from './softmax';
import { decisionValues, EngineData, EngineOptions, trainPaths } from './train';

/**
 * sha256 of exactly what was trained on: dim, class names, then each row's float32 bytes and its int32 label in
 * order. Two classifiers with the same digest saw the same rows; a re-extracted or re-split cache shows up as a
 * different digest.
 */
export function trainingDigest(X: Float32Array, y: Int32Array, dim: number, classes: readonly string[]): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ dim, classes }));
  h.update(Buffer.from(X.buffer, X.byteOffset, X.byteLength));
  h.update(Buffer.from(y.buffer, y.byteOffset, y.byteLength));
  return h.digest('hex');
}

/** Below this many feature values (rows × dim) fitting runs in-process unless threads are given explicitly. */
const IN_PROCESS_CELLS = 16_000_000;

/**
 * Finite inputs and a validated file still can overflow (huge embeddings times large weights): a NaN or ±∞ score
 * would silently become the same argmax for every row, so it is refused with the row it happened on.
 */
export function finiteOutputs(values: Float32Array, K: number, what: string): Float32Array {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v - v !== 0) {
      throw new ConvfeatError(
        `The classifier gave a non-finite value (${v}) among the ${what} of row ${Math.floor(i / K)}; its weights or that embedding are out of range, so check the embeddings (re-extract) or refit the classifier.`,
      );
    }
  }
  return values;
}

/** Row-wise argmax of N × K scores (the first of equal maxima). */
export function argmaxRows(scores: Float32Array, K: number): Int32Array {
  const out = new Int32Array(scores.length / K);
  for (let i = 0; i < out.length; i++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (scores[i * K + k] > scores[i * K + best]) best = k;
    out[i] = best;
  }
  return out;
}

export function accuracyOf(pred: Int32Array, y: Int32Array): number {
  let c = 0;
  for (let i = 0; i < y.length; i++) if (pred[i] === y[i]) c++;
  return y.length ? c / y.length : 0;
}

/** Checked training rows: N × dim embeddings, N labels, K class names and each class's row count. */
export interface TrainingSet {
  X: Float32Array;
  dim: number;
  y: Int32Array;
  classes: readonly string[];
  counts: Int32Array;
}

/** Fits a classifier with hyper-parameters `p` on checked inputs and returns what it learned, frozen. */
export async function learn(
  p: Readonly<LinearClassifierParams>,
  train: TrainingSet,
  val: { X: Float32Array; labels: Int32Array } | undefined,
  source: { backbone: BackboneIdentity; preprocessFingerprint: string | null },
): Promise<FittedState> {
  const { solver } = p;
  const { X: data, dim, y, classes, counts } = train;
  const n = y.length;
  const K = classes.length;
  if (solver === 'ml-svm') assertMlSvmSize(n);
  const scaler = new Scaler(p.scale).fit(data, dim);
  // Scaled straight into shared memory so the SVM worker threads read it without a copy.
  const Xs = scaler.transform(data, new Float32Array(new SharedArrayBuffer(data.byteLength)));
  const valScaled = val && { X: scaler.transform(val.X), labels: val.labels };
  const engineData: EngineData = {
    X: Xs,
    dim,
    labels: y,
    classes: K,
    classWeight: classWeights(p.classWeight, y, K),
  };
  // threads auto: starting worker threads costs ≈ 0.3 s, more than small problems take in-process
  // (1,022 × 2,048, 8 classes with the C search: 0.65 s in-process vs 0.97 s on 2 workers; bench/README.md).
  const threads = p.threads ?? (n * dim < IN_PROCESS_CELLS ? 1 : defaultThreads());
  const engine: EngineOptions = {
    tol: p.tol ?? DEFAULT_TOL[solver],
    maxIter: p.maxIter ?? DEFAULT_MAX_ITER[solver],
    seed: p.seed,
    threads,
  };

  let W: Float64Array;
  let C: number;
  let cSearch: CSearchResult | null = null;
  let history: TrainingCurvePoint[] | null;
  let converged: boolean;
  if (p.C === 'auto') {
    const grid = p.cGrid ?? defaultCGrid(solver, Xs, dim);
    // No more folds than the rarest class has rows, so every fold sees every class when it can.
    const folds = Math.min(p.folds, Math.max(2, Math.min(...counts.filter((c) => c > 0))));
    const out = await searchC(solver, engineData, grid, { ...engine, folds }, valScaled);
    W = out.weights;
    C = out.search.C;
    cSearch = out.search;
    history = out.history;
    converged = !out.hitMaxIter;
  } else {
    const out = await trainPaths(solver, engineData, [allRows(n)], [p.C], engine, valScaled);
    W = out.weights[0][0];
    C = p.C;
    history = out.history?.[0]?.[0] ?? null;
    converged = out.hitMaxIter !== true;
  }
  const weights = new Float64Array(K * dim);
  const bias = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    weights.set(W.subarray(k * (dim + 1), k * (dim + 1) + dim), k * dim);
    bias[k] = W[k * (dim + 1) + dim];
  }
  const trainScores = finiteOutputs(decisionValues(Xs, dim, W, K), K, 'scores');
  const valScores = valScaled && finiteOutputs(decisionValues(valScaled.X, dim, W, K), K, 'scores');
  // softmax is a probability model already, but its C is chosen for accuracy and its L2 penalty shrinks every
  // probability toward 1/K (on 8 photos per class: correct top scores of 0.16–0.25); one temperature fitted on val
  // repairs that without changing a prediction. Without val it stays native: on its own training rows a fit
  // would only make it over-confident. The SVMs always need one (their scores are margins, not logits).
  let temperature = 1;
  let calibratedOn: FittedState['calibratedOn'] = 'native';
  if (valScaled && valScores) {
    temperature = fitTemperature(valScores, K, valScaled.labels);
    calibratedOn = 'val';
  } else if (solver !== 'softmax') {
    temperature = fitTemperature(trainScores, K, y);
    calibratedOn = 'train';
  }
  const metrics: FitMetrics = {
    trainAccuracy: accuracyOf(argmaxRows(trainScores, K), y),
    valAccuracy: valScaled && valScores ? accuracyOf(argmaxRows(valScores, K), valScaled.labels) : null,
    trainSize: n,
    valSize: valScaled?.labels.length ?? 0,
    cSelection: p.C !== 'auto' ? 'fixed' : valScaled ? 'val' : 'cv',
  };
  const provenance: Provenance = {
    convfeatVersion: convfeatVersion(),
    createdAt: new Date().toISOString(),
    trainingRows: { count: n, sha256: trainingDigest(data, y, dim, classes) },
  };
  return freezeState({
    classes: [...classes],
    dim,
    scaler,
    weights,
    bias,
    packed: W.slice(),
    C,
    temperature,
    calibratedOn,
    converged,
    cSearch: plainCopy(cSearch),
    history: plainCopy(history),
    backbone: source.backbone,
    preprocessFingerprint: source.preprocessFingerprint,
    metrics: { ...metrics } as Record<string, unknown>,
    provenance,
  });
}

/** The frozen form of a state (see fitted.ts: plain data deep-frozen, typed arrays private). */
export function freezeState(state: FittedState): FittedState {
  return deepFreeze(state) as unknown as FittedState;
}
