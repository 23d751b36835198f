/**
 * What `fit` learns, as one frozen value: the classifier swaps the whole state on a fit or a load and never edits
 * it in place, so a caller holding a fitted classifier cannot change what it predicts (scikit-learn leaves its
 * fitted arrays writable; here a report, a fused export and the saved file must all describe the same model).
 * Plain data is deep-frozen; typed arrays cannot be frozen, so they stay private and are handed out as copies.
 */
import { Scaler } from './scaler';
import type { CSearchResult } from './search';
import type { TrainingCurvePoint } from './softmax';
import type { Provenance } from './format';

/** A type whose every property, array and nested object is read-only. */
export type DeepReadonly<T> = T extends (infer E)[]
  ? readonly DeepReadonly<E>[]
  : T extends Function | Float32Array | Float64Array | Int32Array
    ? T
    : T extends object
      ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
      : T;

/** Which backbone made the training embeddings; embeddings of another are refused at prediction. */
export interface BackboneIdentity {
  fingerprint: string | null;
  model: string | null;
}

/** What the fit measured on its own data (stored in the file as `metrics`). */
export interface FitMetrics {
  trainAccuracy: number;
  valAccuracy: number | null;
  trainSize: number;
  valSize: number;
  /** How C was chosen: fixed by the caller, on val, or by cross-validation on train. */
  cSelection: 'fixed' | 'val' | 'cv';
}

export interface FittedState {
  readonly classes: readonly string[];
  readonly dim: number;
  readonly scaler: Scaler;
  /** K × dim, row-major, in scaled-feature space. */
  readonly weights: Float64Array;
  readonly bias: Float64Array;
  /** K × (dim + 1), bias last: the layout the scoring loop reads. */
  readonly packed: Float64Array;
  readonly C: number;
  readonly temperature: number;
  readonly calibratedOn: 'val' | 'train' | 'native';
  readonly converged: boolean;
  readonly cSearch: DeepReadonly<CSearchResult> | null;
  readonly history: DeepReadonly<TrainingCurvePoint[]> | null;
  readonly backbone: Readonly<BackboneIdentity>;
  readonly preprocessFingerprint: string | null;
  /** Files of older versions may hold other keys here; they are kept as read. */
  readonly metrics: DeepReadonly<Record<string, unknown>> | null;
  readonly provenance: DeepReadonly<Provenance> | null;
}

/** Freezes plain objects and arrays all the way down (typed arrays, which cannot be frozen, are left as they are). */
export function deepFreeze<T>(value: T): DeepReadonly<T> {
  if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value) && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value as DeepReadonly<T>;
}

/** A deep copy through JSON: the state keeps nothing a caller still holds a reference to. */
export function plainCopy<T>(value: T): T {
  return value === null || value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/** Packs K × dim weights and K biases into K × (dim + 1) rows, bias last. */
export function packWeights(weights: Float64Array, bias: Float64Array, dim: number): Float64Array {
  const K = bias.length;
  const W = new Float64Array(K * (dim + 1));
  for (let k = 0; k < K; k++) {
    W.set(weights.subarray(k * dim, (k + 1) * dim), k * (dim + 1));
    W[k * (dim + 1) + dim] = bias[k];
  }
  return W;
}

/** The state of a classifier that has not been fitted: empty, so reading it never throws. */
export const UNFITTED: FittedState = deepFreeze({
  classes: [],
  dim: 0,
  scaler: new Scaler('none'),
  weights: new Float64Array(0),
  bias: new Float64Array(0),
  packed: new Float64Array(0),
  C: NaN,
  temperature: 1,
  calibratedOn: 'native',
  converged: true,
  cSearch: null,
  history: null,
  backbone: { fingerprint: null, model: null },
  preprocessFingerprint: null,
  metrics: null,
  provenance: null,
}) as FittedState;
