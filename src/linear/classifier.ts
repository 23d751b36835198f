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
import { checkEmbeddings, toEmbeddings, type Embeddings } from '../util/embeddings';
import { ConvfeatError } from '../util/errors';
import { invalid } from '../util/validate';
import { softmaxRows } from './calibration';
import { checkFeatures, checkLabels, classCounts } from './data';
import { packWeights, plainCopy, UNFITTED, type BackboneIdentity, type DeepReadonly, type FittedState } from './fitted';
import { ClassifierJson, CLASSIFIER_FORMAT, CLASSIFIER_VERSION, parseClassifierJson, type Provenance } from './format';
import {
  checkParams,
  DEFAULT_MAX_ITER,
  DEFAULT_TOL,
  type LinearClassifierOptions,
  type LinearClassifierParams,
} from './hyperparams';
import { accuracyOf, argmaxRows, finiteOutputs, freezeState, learn } from './learn';
import { Scaler } from './scaler';
import type { CSearchResult } from './search';
import type { TrainingCurvePoint } from './softmax';
import { decisionValues, type SolverKind } from './train';

export type { Embeddings } from '../util/embeddings';
export type { BackboneIdentity, FitMetrics } from './fitted';
export type { ClassWeightKind, LinearClassifierOptions, LinearClassifierParams } from './hyperparams';
export { trainingDigest } from './learn';

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

  /**
   * A new, unfitted estimator with the same hyper-parameters (and `overrides` on top): scikit-learn's clone. It also
   * stands in for set_params: changing a hyper-parameter of a fitted model in place would leave its file and its
   * weights disagreeing, so hyper-parameters are fixed at construction and a change makes a new estimator.
   */
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

    this.#state = await learn(this.#params, { X: data, dim, y, classes, counts }, val, {
      backbone,
      preprocessFingerprint,
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
