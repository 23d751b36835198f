/**
 * The linear classifier on frozen embeddings, shaped like a scikit-learn estimator: hyper-parameters in the
 * constructor, `fit` returns the fitted model, learned state is plain data that round-trips through JSON.
 *
 * Scores are W·scale(x) + b. `predictProba` is softmax(scores / T) with one temperature T fitted on val by 1-D
 * log-loss minimisation (./calibration.ts); without val the SVMs fit T on train and softmax keeps T = 1 (its own
 * multinomial model).
 * `fit` is async because SVM classes train in worker threads; the rest is synchronous.
 */
import { ConvfeatError, UsageError } from '../util/errors';
import { integerInRange, invalid, oneOf, positiveNumber } from '../util/validate';
import { fitTemperature, softmaxRows } from './calibration';
import { allRows, checkFeatures, checkLabels, classCounts, classWeights } from './data';
import { defaultThreads } from './pool';
import { Scaler, ScaleKind, SCALE_KINDS } from './scaler';
import { CSearchResult, defaultCGrid, searchC } from './search';
import { TrainingCurvePoint } from './softmax';
import { decisionValues, EngineData, EngineOptions, SolverKind, SOLVERS, trainPaths } from './train';
import { assertMlSvmSize } from './mlsvm';
import { ClassifierJson, CLASSIFIER_FORMAT, CLASSIFIER_VERSION, parseClassifierJson, type Provenance } from './format';
import { createHash } from 'crypto';
import { convfeatVersion } from '../util/version';

/**
 * sha256 of exactly what was trained on: dim, class names, then each row's float32 bytes and its int32 label in
 * order. Two classifiers with the same digest saw the same rows; a re-extracted or re-split cache shows up as a
 * different digest.
 */
export function trainingDigest(X: Float32Array, y: Int32Array, dim: number, classes: string[]): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ dim, classes }));
  h.update(Buffer.from(X.buffer, X.byteOffset, X.byteLength));
  h.update(Buffer.from(y.buffer, y.byteOffset, y.byteLength));
  return h.digest('hex');
}

/** Below this many feature values (rows × dim) fitting runs in-process unless threads are given explicitly. */
const IN_PROCESS_CELLS = 16_000_000;

export type ClassWeightKind = 'none' | 'balanced';

export interface LinearClassifierOptions {
  solver?: SolverKind;
  /** A fixed C, or 'auto' to select it on val (else by stratified k-fold CV). */
  C?: number | 'auto';
  scale?: ScaleKind;
  classWeight?: ClassWeightKind;
  seed?: number;
  /** Solver tolerance; defaults: svm eps 0.1 (LIBLINEAR), softmax gtol 1e-4 (scikit-learn), ml-svm 1e-4. */
  tol?: number;
  /** Defaults: svm 1000 (LIBLINEAR), softmax 500, ml-svm 10000. */
  maxIter?: number;
  /** Worker threads for the SVM's one-vs-rest problems; default: in-process for small problems, else one per core. */
  threads?: number;
  folds?: number;
  /** Explicit C grid for 'auto' (default: search.ts's per-solver grid). */
  cGrid?: number[];
}

export interface FitOptions {
  dim: number;
  classes?: string[];
  val?: { X: Float32Array; y: Int32Array };
}

/**
 * Finite inputs and a validated file still can overflow (huge embeddings times large weights): a NaN or ±∞ score
 * would silently become the same argmax for every row, so it is refused with the row it happened on.
 */
function finiteOutputs(values: Float32Array, K: number, what: string): Float32Array {
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

const DEFAULT_TOL: Record<SolverKind, number> = { svm: 0.1, softmax: 1e-4, 'ml-svm': 1e-4 };
const DEFAULT_MAX_ITER: Record<SolverKind, number> = { svm: 1000, softmax: 500, 'ml-svm': 10000 };

export class LinearClassifier {
  readonly solver: SolverKind;
  readonly params: Required<Omit<LinearClassifierOptions, 'cGrid' | 'solver'>> & { cGrid?: number[] };
  classes: string[] = [];
  dim = 0;
  scaler: Scaler;
  /** K × dim, row-major, in scaled-feature space. */
  weights: Float64Array = new Float64Array(0);
  bias: Float64Array = new Float64Array(0);
  /** The C the model was trained with (chosen by the search when C is 'auto'). */
  C = NaN;
  temperature = 1;
  calibratedOn: 'val' | 'train' | 'native' = 'native';
  cSearch: CSearchResult | null = null;
  history: TrainingCurvePoint[] | null = null;
  converged = true;
  /** Slots the caller fills: which backbone/preprocessing produced the embeddings, and evaluation metrics. */
  backbone: { fingerprint: string | null; model: string | null } = { fingerprint: null, model: null };
  preprocessFingerprint: string | null = null;
  metrics: Record<string, unknown> | null = null;
  /** Which convfeat fitted it, when, and a digest of the training rows (null in files from older versions). */
  provenance: Provenance | null = null;

  constructor(options: LinearClassifierOptions = {}) {
    const solver = oneOf('solver', options.solver ?? 'svm', SOLVERS);
    this.solver = solver;
    const C = options.C ?? 'auto';
    if (C !== 'auto') positiveNumber('C', C);
    const classWeight = oneOf('classWeight', options.classWeight ?? 'none', ['none', 'balanced'] as const);
    if (solver === 'ml-svm' && classWeight !== 'none') {
      throw new UsageError(
        'The ml-svm solver has one C for all samples and cannot use class weights; use --solver svm with --class-weight balanced.',
      );
    }
    const cGrid = options.cGrid;
    if (
      cGrid !== undefined &&
      (!Array.isArray(cGrid) || cGrid.length === 0 || cGrid.some((c) => !(c > 0 && Number.isFinite(c))))
    ) {
      throw invalid('cGrid', 'a non-empty list of positive numbers', cGrid);
    }
    this.params = {
      C,
      scale: oneOf('scale', options.scale ?? 'l2', SCALE_KINDS),
      classWeight,
      seed: integerInRange('seed', options.seed ?? 1, 0, 2 ** 31 - 1),
      tol: positiveNumber('tol', options.tol ?? DEFAULT_TOL[solver]),
      maxIter: integerInRange('maxIter', options.maxIter ?? DEFAULT_MAX_ITER[solver], 1, 1e7),
      threads: options.threads === undefined ? 0 : integerInRange('threads', options.threads, 1, 1024),
      folds: integerInRange('folds', options.folds ?? 5, 2, 100),
      cGrid: cGrid ? [...cGrid].sort((a, b) => a - b) : undefined,
    };
    this.scaler = new Scaler(this.params.scale);
  }

  get fitted(): boolean {
    return this.weights.length > 0;
  }

  async fit(X: Float32Array, y: Int32Array, options: FitOptions): Promise<this> {
    if (!options || typeof options !== 'object') throw invalid('fit options', 'an object with dim', options);
    const dim = integerInRange('dim', options.dim, 1, 1 << 24);
    const n = checkFeatures('X', X, dim);
    let K = 0;
    if (y instanceof Int32Array) for (let i = 0; i < y.length; i++) K = Math.max(K, y[i] + 1);
    const classes = options.classes ?? Array.from({ length: K }, (_, k) => String(k));
    if (!Array.isArray(classes) || classes.some((c) => typeof c !== 'string'))
      throw invalid('classes', 'a list of class names', classes);
    K = classes.length;
    checkLabels('y', y, n, K);
    const counts = classCounts(y, K);
    const present = classes.filter((_, k) => counts[k] > 0);
    if (present.length < 2) {
      throw new ConvfeatError(
        `The training data has only one class (${JSON.stringify(present[0] ?? '')}); a classifier needs embeddings of at least two classes.`,
      );
    }
    let val: { X: Float32Array; labels: Int32Array } | undefined;
    if (options.val) {
      const nv = checkFeatures('val.X', options.val.X, dim);
      val = { X: options.val.X, labels: checkLabels('val.y', options.val.y, nv, K) };
    }
    const solver = this.solver;
    const p = this.params;
    if (solver === 'ml-svm') assertMlSvmSize(n);

    this.scaler = new Scaler(p.scale).fit(X, dim);
    // Scaled straight into shared memory so the SVM worker threads read it without a copy.
    const Xs = this.scaler.transform(X, new Float32Array(new SharedArrayBuffer(X.byteLength)));
    const valScaled = val && { X: this.scaler.transform(val.X), labels: val.labels };
    const data: EngineData = { X: Xs, dim, labels: y, classes: K, classWeight: classWeights(p.classWeight, y, K) };
    // threads 0 = automatic: starting worker threads costs ≈ 0.3 s, more than small problems take in-process
    // (1,022 × 2,048, 8 classes with the C search: 0.65 s in-process vs 0.97 s on 2 workers; bench/README.md).
    const threads = p.threads > 0 ? p.threads : n * dim < IN_PROCESS_CELLS ? 1 : defaultThreads();
    const engine: EngineOptions = { tol: p.tol, maxIter: p.maxIter, seed: p.seed, threads };

    let W: Float64Array;
    if (p.C === 'auto') {
      const grid = p.cGrid ?? defaultCGrid(solver, Xs, dim);
      // No more folds than the rarest class has rows, so every fold sees every class when it can.
      const folds = Math.min(p.folds, Math.max(2, Math.min(...counts.filter((c) => c > 0))));
      const out = await searchC(solver, data, grid, { ...engine, folds }, valScaled);
      W = out.weights;
      this.C = out.search.C;
      this.cSearch = out.search;
      this.history = out.history;
      this.converged = !out.hitMaxIter;
    } else {
      const out = await trainPaths(solver, data, [allRows(n)], [p.C], engine, valScaled);
      W = out.weights[0][0];
      this.C = p.C;
      this.cSearch = null;
      this.history = out.history?.[0]?.[0] ?? null;
      this.converged = out.hitMaxIter !== true;
    }
    this.classes = [...classes];
    this.dim = dim;
    this.provenance = {
      convfeatVersion: convfeatVersion(),
      createdAt: new Date().toISOString(),
      trainingRows: { count: n, sha256: trainingDigest(X, y, dim, classes) },
    };
    this.weights = new Float64Array(K * dim);
    this.bias = new Float64Array(K);
    for (let k = 0; k < K; k++) {
      this.weights.set(W.subarray(k * (dim + 1), k * (dim + 1) + dim), k * dim);
      this.bias[k] = W[k * (dim + 1) + dim];
    }
    // softmax is a probability model already, but its C is chosen for accuracy and its L2 penalty shrinks every
    // probability toward 1/K (on 8 photos per class: correct top scores of 0.16–0.25); one temperature fitted on val
    // repairs that without changing a prediction. Without val it stays native: on its own training rows a fit
    // would only make it over-confident. The SVMs always need one (their scores are margins, not logits).
    if (solver === 'softmax' && !valScaled) {
      this.temperature = 1;
      this.calibratedOn = 'native';
    } else {
      const on = valScaled ?? { X: Xs, labels: y };
      this.temperature = fitTemperature(this.scores(on.X), K, on.labels);
      this.calibratedOn = valScaled ? 'val' : 'train';
    }
    return this;
  }

  /** Refuses embeddings from another backbone (when both sides know their fingerprint). */
  assertBackbone(fingerprint: string | null | undefined, model?: string | null): void {
    const mine = this.backbone.fingerprint;
    if (mine && fingerprint && mine !== fingerprint) {
      const theirs = model ? `${model} (${fingerprint.slice(0, 12)})` : fingerprint.slice(0, 12);
      const ours = this.backbone.model ? `${this.backbone.model} (${mine.slice(0, 12)})` : mine.slice(0, 12);
      throw new ConvfeatError(
        `The classifier was trained on embeddings of ${ours} but these come from ${theirs}; extract with the same backbone or refit the classifier.`,
      );
    }
  }

  private checkInput(X: Float32Array, dim?: number): number {
    if (!this.fitted)
      throw new ConvfeatError('The classifier is not fitted yet; call fit() or load a classifier file first.');
    if (dim !== undefined && dim !== this.dim) {
      throw new ConvfeatError(
        `The classifier expects ${this.dim}-d embeddings but received ${dim}-d ones; extract with the backbone it was trained on.`,
      );
    }
    return checkFeatures('X', X, this.dim);
  }

  /** Scores of already-scaled rows. */
  private scores(Xs: Float32Array): Float32Array {
    const K = this.classes.length;
    const stride = this.dim + 1;
    const W = new Float64Array(K * stride);
    for (let k = 0; k < K; k++) {
      W.set(this.weights.subarray(k * this.dim, (k + 1) * this.dim), k * stride);
      W[k * stride + this.dim] = this.bias[k];
    }
    return decisionValues(Xs, this.dim, W, K);
  }

  /** N × K scores W·scale(x) + b. @param dim the embeddings' dimension, when the caller knows it (checked). */
  decisionFunction(X: Float32Array, dim?: number): Float32Array {
    this.checkInput(X, dim);
    return finiteOutputs(this.scores(this.scaler.transform(X)), this.classes.length, 'scores');
  }

  predict(X: Float32Array, dim?: number): Int32Array {
    const s = this.decisionFunction(X, dim);
    const K = this.classes.length;
    const out = new Int32Array(s.length / K);
    for (let i = 0; i < out.length; i++) {
      let best = 0;
      for (let k = 1; k < K; k++) if (s[i * K + k] > s[i * K + best]) best = k;
      out[i] = best;
    }
    return out;
  }

  predictProba(X: Float32Array, dim?: number): Float32Array {
    const K = this.classes.length;
    return finiteOutputs(softmaxRows(this.decisionFunction(X, dim), K, this.temperature), K, 'probabilities');
  }

  toJSON(): ClassifierJson {
    if (!this.fitted) throw new ConvfeatError('The classifier is not fitted yet; there is nothing to save.');
    const { cGrid, threads, ...params } = this.params;
    void threads; // machine-specific, not part of the model
    return {
      format: CLASSIFIER_FORMAT,
      version: CLASSIFIER_VERSION,
      solver: this.solver,
      classes: [...this.classes],
      dim: this.dim,
      scaler: this.scaler.toJSON(),
      weights: Array.from(this.weights),
      bias: Array.from(this.bias),
      C: this.C,
      params: { ...params, cGrid: cGrid ?? null },
      calibration:
        this.calibratedOn === 'native'
          ? { method: 'softmax' }
          : { method: 'temperature', temperature: this.temperature, fittedOn: this.calibratedOn as 'val' | 'train' },
      converged: this.converged,
      cSearch: this.cSearch,
      history: this.history,
      backbone: { ...this.backbone },
      preprocessFingerprint: this.preprocessFingerprint,
      metrics: this.metrics,
      provenance: this.provenance,
    };
  }

  /** @param source how to name the input in errors (a file path, or "The JSON"). */
  static fromJSON(obj: unknown, source = 'The JSON'): LinearClassifier {
    const j = parseClassifierJson(obj, source);
    const { C, cGrid, ...rest } = j.params;
    const clf = new LinearClassifier({ solver: j.solver, C, ...rest, cGrid: cGrid ?? undefined });
    clf.classes = [...j.classes];
    clf.dim = j.dim;
    clf.scaler = Scaler.fromJSON(j.scaler);
    clf.weights = Float64Array.from(j.weights);
    clf.bias = Float64Array.from(j.bias);
    clf.C = j.C;
    clf.temperature = j.calibration.method === 'temperature' ? j.calibration.temperature : 1;
    clf.calibratedOn = j.calibration.method === 'temperature' ? j.calibration.fittedOn : 'native';
    clf.converged = j.converged;
    clf.cSearch = j.cSearch;
    clf.history = j.history;
    clf.backbone = { ...j.backbone };
    clf.preprocessFingerprint = j.preprocessFingerprint;
    clf.metrics = j.metrics;
    clf.provenance = j.provenance ?? null;
    return clf;
  }
}
