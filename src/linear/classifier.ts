/**
 * The linear classifier on frozen embeddings, shaped like a scikit-learn estimator: hyper-parameters in the
 * constructor (defaults = `convfeat fit-linear`'s), `fit(X, y)` returns the fitted estimator, `getParams()` and
 * `clone()` give the hyper-parameters back, learned state is read-only plain data that round-trips through JSON.
 *
 * Scores are W·scale(x) + b. `predictProba` is softmax(scores / T) with one temperature T fitted on val by 1-D
 * log-loss minimisation (./calibration.ts); without val the SVMs fit T on train and softmax keeps T = 1 (its own
 * multinomial model).
 * `fit` is async because SVM classes train in worker threads; the rest is synchronous.
 */
import { createHash } from 'crypto';
import { checkEmbeddings, toEmbeddings, type Embeddings } from '../util/embeddings';
import { ConvfeatError, UsageError } from '../util/errors';
import { param } from '../util/params';
import { integerInRange, invalid, oneOf, positiveNumber } from '../util/validate';
import { convfeatVersion } from '../util/version';
import { fitTemperature, softmaxRows } from './calibration';
import { allRows, checkFeatures, checkLabels, classCounts, classWeights } from './data';
import {
  deepFreeze,
  packWeights,
  plainCopy,
  UNFITTED,
  type BackboneIdentity,
  type DeepReadonly,
  type FitMetrics,
  type FittedState,
} from './fitted';
import { ClassifierJson, CLASSIFIER_FORMAT, CLASSIFIER_VERSION, parseClassifierJson, type Provenance } from './format';
import { assertMlSvmSize } from './mlsvm';
import { defaultThreads } from './pool';
import { Scaler, ScaleKind, SCALE_KINDS } from './scaler';
import { CSearchResult, defaultCGrid, searchC } from './search';
import { TrainingCurvePoint } from './softmax';
import { decisionValues, EngineData, EngineOptions, SolverKind, SOLVERS, trainPaths } from './train';

export type { Embeddings } from '../util/embeddings';
export type { BackboneIdentity, FitMetrics } from './fitted';

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

export type ClassWeightKind = 'none' | 'balanced';

/** Hyper-parameters. Every default is `convfeat fit-linear`'s, so code and CLI fit the same classifier. */
export interface LinearClassifierOptions {
  /** Default 'svm'. */
  solver?: SolverKind;
  /** A fixed C, or 'auto' (default) to select it on val (else by stratified k-fold CV). */
  C?: number | 'auto';
  /** Default 'none': measured best on ResNet50 features (README). */
  scale?: ScaleKind;
  /** Default 'none'. */
  classWeight?: ClassWeightKind;
  /** Default 1. */
  seed?: number;
  /** Solver tolerance; default per solver: svm eps 0.1 (LIBLINEAR), softmax gtol 1e-4 (scikit-learn), ml-svm 1e-4. */
  tol?: number;
  /** Default per solver: svm 1000 (LIBLINEAR), softmax 500, ml-svm 10000. */
  maxIter?: number;
  /** Worker threads for the SVM's one-vs-rest problems; default: in-process for small problems, else one per core. */
  threads?: number;
  /** k of the cross-validation that chooses C when there is no val split; default 5. */
  folds?: number;
  /** Explicit C grid for 'auto' (default: search.ts's per-solver grid). */
  cGrid?: readonly number[];
}

/** Every hyper-parameter, as `getParams()` returns it; undefined = the solver's (or the machine's) default. */
export interface LinearClassifierParams {
  solver: SolverKind;
  C: number | 'auto';
  scale: ScaleKind;
  classWeight: ClassWeightKind;
  seed: number;
  tol: number | undefined;
  maxIter: number | undefined;
  threads: number | undefined;
  folds: number;
  cGrid: number[] | undefined;
}

/** What `fit` needs besides X and y: names, a val split, and where the embeddings came from. */
export interface FitOptions {
  /** Class names, indexed by the ids in y (default "0", "1", …). */
  classes?: readonly string[];
  /** Chooses C (when 'auto') and fits the probability temperature. */
  val?: { X: Embeddings; y: Int32Array };
  /** The backbone that made X; predictions on embeddings of another backbone are then refused. */
  backbone?: BackboneIdentity;
  /** The preprocessing that made X (cache meta's preprocessFingerprint). */
  preprocessFingerprint?: string | null;
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

/** Row-wise argmax of N × K scores (the first of equal maxima). */
function argmaxRows(scores: Float32Array, K: number): Int32Array {
  const out = new Int32Array(scores.length / K);
  for (let i = 0; i < out.length; i++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (scores[i * K + k] > scores[i * K + best]) best = k;
    out[i] = best;
  }
  return out;
}

function accuracyOf(pred: Int32Array, y: Int32Array): number {
  let c = 0;
  for (let i = 0; i < y.length; i++) if (pred[i] === y[i]) c++;
  return y.length ? c / y.length : 0;
}

const DEFAULT_TOL: Record<SolverKind, number> = { svm: 0.1, softmax: 1e-4, 'ml-svm': 1e-4 };
const DEFAULT_MAX_ITER: Record<SolverKind, number> = { svm: 1000, softmax: 500, 'ml-svm': 10000 };

/** Validates options once, at the door; the message names the option as the reader knows it (util/params). */
function checkParams(options: LinearClassifierOptions): LinearClassifierParams {
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw invalid('options', 'an object of hyper-parameters', options);
  const solver = oneOf(param('solver'), options.solver ?? 'svm', SOLVERS);
  const C = options.C ?? 'auto';
  if (C !== 'auto') positiveNumber(param('C'), C);
  const classWeight = oneOf(param('classWeight'), options.classWeight ?? 'none', ['none', 'balanced'] as const);
  if (solver === 'ml-svm' && classWeight !== 'none') {
    throw new UsageError(
      `The ml-svm solver has one C for all samples and cannot use class weights; use ${param('solver')} svm with ${param('classWeight')} balanced.`,
    );
  }
  const cGrid = options.cGrid;
  if (
    cGrid !== undefined &&
    (!Array.isArray(cGrid) || cGrid.length === 0 || cGrid.some((c) => !(c > 0 && Number.isFinite(c))))
  ) {
    throw invalid(param('cGrid'), 'a non-empty list of positive numbers', cGrid);
  }
  return {
    solver,
    C,
    scale: oneOf(param('scale'), options.scale ?? 'none', SCALE_KINDS),
    classWeight,
    seed: integerInRange(param('seed'), options.seed ?? 1, 0, 2 ** 31 - 1),
    tol: options.tol === undefined ? undefined : positiveNumber(param('tol'), options.tol),
    maxIter: options.maxIter === undefined ? undefined : integerInRange(param('maxIter'), options.maxIter, 1, 1e7),
    threads: options.threads === undefined ? undefined : integerInRange(param('threads'), options.threads, 1, 1024),
    folds: integerInRange(param('folds'), options.folds ?? 5, 2, 100),
    cGrid: cGrid ? [...cGrid].sort((a, b) => a - b) : undefined,
  };
}

export class LinearClassifier {
  readonly solver: SolverKind;
  readonly #params: Readonly<LinearClassifierParams>;
  #state: FittedState = UNFITTED;

  constructor(options: LinearClassifierOptions = {}) {
    this.#params = Object.freeze(checkParams(options));
    this.solver = this.#params.solver;
  }

  /** The hyper-parameters; `new LinearClassifier(clf.getParams())` is an unfitted twin. */
  getParams(): LinearClassifierParams {
    const p = this.#params;
    return { ...p, cGrid: p.cGrid && [...p.cGrid] };
  }

  /** A new, unfitted estimator with the same hyper-parameters (and `overrides` on top): scikit-learn's clone. */
  clone(overrides: LinearClassifierOptions = {}): LinearClassifier {
    return new LinearClassifier({ ...this.getParams(), ...overrides });
  }

  get fitted(): boolean {
    return this.#state.weights.length > 0;
  }

  // Learned state: read-only views of the frozen state. Typed arrays come back as copies.
  get classes(): readonly string[] {
    return this.#state.classes;
  }
  get dim(): number {
    return this.#state.dim;
  }
  /** A copy of the fitted scaler. */
  get scaler(): Scaler {
    return Scaler.fromJSON(this.#state.scaler.toJSON());
  }
  /** A copy of the K × dim weights, row-major, in scaled-feature space. */
  get weights(): Float64Array {
    return Float64Array.from(this.#state.weights);
  }
  /** A copy of the K biases. */
  get bias(): Float64Array {
    return Float64Array.from(this.#state.bias);
  }
  /** The C the model was trained with (chosen by the search when C is 'auto'); NaN before fit. */
  get C(): number {
    return this.#state.C;
  }
  get temperature(): number {
    return this.#state.temperature;
  }
  get calibratedOn(): 'val' | 'train' | 'native' {
    return this.#state.calibratedOn;
  }
  get converged(): boolean {
    return this.#state.converged;
  }
  get cSearch(): DeepReadonly<CSearchResult> | null {
    return this.#state.cSearch;
  }
  get history(): DeepReadonly<TrainingCurvePoint[]> | null {
    return this.#state.history;
  }
  get backbone(): Readonly<BackboneIdentity> {
    return this.#state.backbone;
  }
  get preprocessFingerprint(): string | null {
    return this.#state.preprocessFingerprint;
  }
  /** What the fit measured on its own data (FitMetrics); files of older versions may hold other keys. */
  get metrics(): DeepReadonly<Record<string, unknown>> | null {
    return this.#state.metrics;
  }
  /** Which convfeat fitted it, when, and a digest of the training rows (null in files from older versions). */
  get provenance(): DeepReadonly<Provenance> | null {
    return this.#state.provenance;
  }

  /**
   * Fits on X (N embeddings) and y (N class ids in 0 … K − 1) and returns this estimator, fitted. Fitting again
   * replaces everything learned before.
   */
  async fit(X: Embeddings, y: Int32Array, options: FitOptions = {}): Promise<this> {
    const train = checkEmbeddings('X', X);
    if (options === null || typeof options !== 'object')
      throw invalid('options', 'an object such as { classes, val }', options);
    const { dim, data } = train;
    const n = checkFeatures('X', train);
    if (!(y instanceof Int32Array)) throw invalid('y', 'an Int32Array of class ids', y);
    let K = 0;
    for (let i = 0; i < y.length; i++) K = Math.max(K, y[i] + 1);
    const classes = options.classes ?? Array.from({ length: K }, (_, k) => String(k));
    if (!Array.isArray(classes) || classes.length === 0 || classes.some((c) => typeof c !== 'string' || !c.trim()))
      throw invalid('classes', 'a list of class names', classes);
    const repeated = classes.findIndex((c, i) => classes.indexOf(c) !== i);
    if (repeated >= 0) throw invalid(`classes[${repeated}]`, `a name not already in classes`, classes[repeated]);
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
    if (options.val !== undefined) {
      if (options.val === null || typeof options.val !== 'object')
        throw invalid('val', 'an object { X, y } of validation embeddings and labels', options.val);
      const vx = checkEmbeddings('val.X', options.val.X);
      if (vx.dim !== dim) throw invalid('val.X.dim', `${dim} (the dim of X)`, vx.dim);
      const nv = checkFeatures('val.X', vx);
      val = { X: vx.data, labels: checkLabels('val.y', options.val.y, nv, K) };
    }
    const backbone = checkBackbone(options.backbone);
    const preprocessFingerprint = options.preprocessFingerprint ?? null;
    if (typeof preprocessFingerprint !== 'string' && preprocessFingerprint !== null)
      throw invalid('preprocessFingerprint', 'a string or null', preprocessFingerprint);

    const solver = this.solver;
    const p = this.#params;
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
    this.#state = freezeState({
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
      backbone,
      preprocessFingerprint,
      metrics: { ...metrics } as Record<string, unknown>,
      provenance,
    });
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

  /**
   * Embeddings to score, checked: a fitted classifier, this classifier's dim, finite numbers. A bare Float32Array
   * is read as rows of this classifier's dim (the form before Embeddings; `dim`, when given, is checked).
   */
  private input(X: Embeddings | Float32Array, dim?: number): Embeddings {
    const s = this.#state;
    if (!this.fitted)
      throw new ConvfeatError('The classifier is not fitted yet; call fit() or load a classifier file first.');
    const expected = dim ?? (X instanceof Float32Array ? s.dim : checkEmbeddings('X', X).dim);
    if (expected !== s.dim) {
      throw new ConvfeatError(
        `The classifier expects ${s.dim}-d embeddings but received ${expected}-d ones; extract with the backbone it was trained on.`,
      );
    }
    const e = X instanceof Float32Array ? asRows(X, s.dim) : (X as Embeddings);
    checkFeatures('X', e);
    return e;
  }

  /** N × K scores W·scale(x) + b. */
  decisionFunction(X: Embeddings): Float32Array;
  /** @deprecated pass Embeddings ({ data, rows, dim }, see toEmbeddings); `dim`, when given, is checked. */
  decisionFunction(X: Float32Array, dim?: number): Float32Array;
  decisionFunction(X: Embeddings | Float32Array, dim?: number): Float32Array {
    const e = this.input(X, dim);
    const s = this.#state;
    const scores = decisionValues(s.scaler.transform(e.data), s.dim, s.packed, s.classes.length);
    return finiteOutputs(scores, s.classes.length, 'scores');
  }

  /** The class id of each row (the highest score; ties go to the lower id). */
  predict(X: Embeddings): Int32Array;
  /** @deprecated pass Embeddings ({ data, rows, dim }, see toEmbeddings); `dim`, when given, is checked. */
  predict(X: Float32Array, dim?: number): Int32Array;
  predict(X: Embeddings | Float32Array, dim?: number): Int32Array {
    return argmaxRows(this.decisionFunction(X as Float32Array, dim), this.#state.classes.length);
  }

  /** N × K calibrated probabilities: softmax(scores / temperature). */
  predictProba(X: Embeddings): Float32Array;
  /** @deprecated pass Embeddings ({ data, rows, dim }, see toEmbeddings); `dim`, when given, is checked. */
  predictProba(X: Float32Array, dim?: number): Float32Array;
  predictProba(X: Embeddings | Float32Array, dim?: number): Float32Array {
    const K = this.#state.classes.length;
    const scores = this.decisionFunction(X as Float32Array, dim);
    return finiteOutputs(softmaxRows(scores, K, this.#state.temperature), K, 'probabilities');
  }

  /** Mean accuracy on (X, y): the fraction of rows whose predicted class id equals y's. */
  score(X: Embeddings, y: Int32Array): number {
    const pred = this.predict(X);
    checkLabels('y', y, pred.length, this.#state.classes.length);
    return accuracyOf(pred, y);
  }

  toJSON(): ClassifierJson {
    if (!this.fitted) throw new ConvfeatError('The classifier is not fitted yet; there is nothing to save.');
    const s = this.#state;
    const p = this.#params;
    // The file records the tolerances actually used, and no thread count (machine-specific, not part of the model).
    return {
      format: CLASSIFIER_FORMAT,
      version: CLASSIFIER_VERSION,
      solver: this.solver,
      classes: [...s.classes],
      dim: s.dim,
      scaler: s.scaler.toJSON(),
      weights: Array.from(s.weights),
      bias: Array.from(s.bias),
      C: s.C,
      params: {
        C: p.C,
        scale: p.scale,
        classWeight: p.classWeight,
        seed: p.seed,
        tol: p.tol ?? DEFAULT_TOL[p.solver],
        maxIter: p.maxIter ?? DEFAULT_MAX_ITER[p.solver],
        folds: p.folds,
        cGrid: p.cGrid ? [...p.cGrid] : null,
      },
      calibration:
        s.calibratedOn === 'native'
          ? { method: 'softmax' }
          : { method: 'temperature', temperature: s.temperature, fittedOn: s.calibratedOn },
      converged: s.converged,
      cSearch: plainCopy(s.cSearch) as CSearchResult | null,
      history: plainCopy(s.history) as TrainingCurvePoint[] | null,
      backbone: { ...s.backbone },
      preprocessFingerprint: s.preprocessFingerprint,
      metrics: plainCopy(s.metrics) as Record<string, unknown> | null,
      provenance: plainCopy(s.provenance) as Provenance | null,
    };
  }

  /** @param source how to name the input in errors (a file path, or "The JSON"). */
  static fromJSON(obj: unknown, source = 'The JSON'): LinearClassifier {
    const j = parseClassifierJson(obj, source);
    const { C, cGrid, ...rest } = j.params;
    const clf = new LinearClassifier({ solver: j.solver, C, ...rest, cGrid: cGrid ?? undefined });
    const weights = Float64Array.from(j.weights);
    const bias = Float64Array.from(j.bias);
    clf.#state = freezeState({
      classes: [...j.classes],
      dim: j.dim,
      scaler: Scaler.fromJSON(j.scaler),
      weights,
      bias,
      packed: packWeights(weights, bias, j.dim),
      C: j.C,
      temperature: j.calibration.method === 'temperature' ? j.calibration.temperature : 1,
      calibratedOn: j.calibration.method === 'temperature' ? j.calibration.fittedOn : 'native',
      converged: j.converged,
      cSearch: plainCopy(j.cSearch),
      history: plainCopy(j.history),
      backbone: { fingerprint: j.backbone.fingerprint, model: j.backbone.model },
      preprocessFingerprint: j.preprocessFingerprint,
      metrics: plainCopy(j.metrics),
      provenance: plainCopy(j.provenance ?? null),
    });
    return clf;
  }
}

/** A bare Float32Array of rows of `dim` numbers as Embeddings (the deprecated predict form). */
function asRows(data: Float32Array, dim: number): Embeddings {
  if (data.length % dim !== 0) {
    throw new ConvfeatError(
      `Expected X to hold ${dim}-d embeddings but its length ${data.length} is not a multiple of ${dim}; the embeddings come from a different backbone or layer.`,
    );
  }
  return toEmbeddings(data, dim, 'X');
}

function checkBackbone(backbone: unknown): BackboneIdentity {
  if (backbone === undefined || backbone === null) return { fingerprint: null, model: null };
  const b = backbone as Partial<BackboneIdentity>;
  const ok = (v: unknown): boolean => v === undefined || v === null || typeof v === 'string';
  if (typeof backbone !== 'object' || !ok(b.fingerprint) || !ok(b.model))
    throw invalid('backbone', 'an object { fingerprint, model } of strings or null', backbone);
  return { fingerprint: b.fingerprint ?? null, model: b.model ?? null };
}

/** The frozen form of a state (see fitted.ts: plain data deep-frozen, typed arrays private). */
function freezeState(state: FittedState): FittedState {
  return deepFreeze(state) as unknown as FittedState;
}
