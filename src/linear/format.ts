/**
 * The classifier file: plain JSON with a format tag and version, checked field by field on the way in so that a
 * file that is not ours, or is damaged, fails with one sentence instead of a TypeError deep in predict().
 */
import { ConvfeatError } from '../util/errors';
import type { ScalerJson } from './scaler';
import type { CSearchResult } from './search';
import type { TrainingCurvePoint } from './softmax';
import { SCALE_KINDS } from './scaler';
import { SOLVERS, SolverKind } from './train';

export const CLASSIFIER_FORMAT = 'convfeat-classifier';
export const CLASSIFIER_VERSION = 1;

export interface Provenance {
  /** The convfeat release that fitted the classifier. */
  convfeatVersion: string;
  /** ISO 8601 UTC time of the fit. */
  createdAt: string;
  /** How many rows it was trained on, and the sha256 of those rows (see trainingDigest in classifier.ts). */
  trainingRows: { count: number; sha256: string };
}

export interface ClassifierJson {
  format: typeof CLASSIFIER_FORMAT;
  version: number;
  solver: SolverKind;
  classes: string[];
  dim: number;
  scaler: ScalerJson;
  /** K × dim, row-major, in scaled-feature space. */
  weights: number[];
  bias: number[];
  C: number;
  params: {
    C: number | 'auto';
    scale: ScalerJson['kind'];
    classWeight: 'none' | 'balanced';
    seed: number;
    tol: number;
    maxIter: number;
    folds: number;
    cGrid: number[] | null;
  };
  calibration: { method: 'softmax' } | { method: 'temperature'; temperature: number; fittedOn: 'val' | 'train' };
  converged: boolean;
  cSearch: CSearchResult | null;
  history: TrainingCurvePoint[] | null;
  backbone: { fingerprint: string | null; model: string | null };
  preprocessFingerprint: string | null;
  metrics: Record<string, unknown> | null;
  /** Absent in files written before it was recorded. */
  provenance?: Provenance | null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Largest magnitude accepted for a weight, bias or scaler mean. Fitted values are many orders below it (an SVM or
 * softmax on embeddings of float32 range); a value above it can only be damage, and would overflow the scores to ±∞
 * (1e308 × an embedding) or make every prediction the same class.
 */
export const MAX_PARAMETER = 1e12;
/** The standard scaler stores 1 for constant features, so a fitted std is never below this. */
export const MIN_STD = 1e-12;
/** The calibration searches log10 T in [−4, 3] (calibration.ts); rounding to 6 digits may nudge it by 1e-6. */
export const TEMPERATURE_RANGE = [1e-4 * (1 - 1e-5), 1e3 * (1 + 1e-5)] as const;

type Damaged = (what: string) => ConvfeatError;

/** A list of `length` finite numbers, each within [lo, hi]; the error names the field and the first bad entry. */
function checkNumbers(damaged: Damaged, field: string, v: unknown, length: number, lo: number, hi: number): void {
  if (!Array.isArray(v)) throw damaged(`${field} must be a list of ${length} numbers but is ${describe(v)}`);
  if (v.length !== length) throw damaged(`${field} must hold ${length} numbers but holds ${v.length}`);
  for (let i = 0; i < v.length; i++) {
    const x: unknown = v[i];
    if (typeof x !== 'number' || !Number.isFinite(x))
      throw damaged(`${field}[${i}] is ${describe(x)}, not a finite number`);
    if (x < lo || x > hi) throw damaged(`${field}[${i}] is ${x}, outside ${lo} … ${hi}`);
  }
}

function describe(v: unknown): string {
  if (v === undefined) return 'missing';
  if (typeof v === 'number') return String(v);
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function checkClasses(damaged: Damaged, v: unknown): void {
  if (!Array.isArray(v) || v.length < 2)
    throw damaged(`classes must be a list of at least 2 names but is ${describe(v)}`);
  const seen = new Map<string, number>();
  v.forEach((c: unknown, i) => {
    if (typeof c !== 'string' || c.trim() === '') throw damaged(`classes[${i}] is ${describe(c)}, not a class name`);
    const first = seen.get(c);
    if (first !== undefined) throw damaged(`classes[${i}] repeats classes[${first}] ${JSON.stringify(c)}`);
    seen.set(c, i);
  });
}

function checkScaler(damaged: Damaged, v: unknown, dim: number): void {
  if (!isObject(v)) throw damaged(`scaler is ${describe(v)}, not an object`);
  if (!(SCALE_KINDS as readonly unknown[]).includes(v.kind))
    throw damaged(`scaler.kind is ${describe(v.kind)}, not one of ${SCALE_KINDS.join(', ')}`);
  if (v.dim !== dim) throw damaged(`scaler.dim is ${describe(v.dim)} but the classifier's dim is ${dim}`);
  if (v.kind !== 'standard') return;
  checkNumbers(damaged, 'scaler.mean', v.mean, dim, -MAX_PARAMETER, MAX_PARAMETER);
  checkNumbers(damaged, 'scaler.std', v.std, dim, MIN_STD, MAX_PARAMETER);
}

function checkParams(damaged: Damaged, v: unknown): void {
  if (!isObject(v)) throw damaged(`params is ${describe(v)}, not an object`);
  const positive = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x) && x > 0;
  const integer = (x: unknown, lo: number, hi: number): boolean =>
    typeof x === 'number' && Number.isInteger(x) && x >= lo && x <= hi;
  if (v.C !== 'auto' && !positive(v.C)) throw damaged(`params.C is ${describe(v.C)}, not a positive number or "auto"`);
  if (!(SCALE_KINDS as readonly unknown[]).includes(v.scale)) throw damaged(`params.scale is ${describe(v.scale)}`);
  if (v.classWeight !== 'none' && v.classWeight !== 'balanced')
    throw damaged(`params.classWeight is ${describe(v.classWeight)}, not none or balanced`);
  if (!integer(v.seed, 0, 2 ** 31 - 1)) throw damaged(`params.seed is ${describe(v.seed)}`);
  if (!positive(v.tol)) throw damaged(`params.tol is ${describe(v.tol)}, not a positive number`);
  if (!integer(v.maxIter, 1, 1e7)) throw damaged(`params.maxIter is ${describe(v.maxIter)}`);
  if (!integer(v.folds, 2, 100)) throw damaged(`params.folds is ${describe(v.folds)}`);
  if (v.cGrid !== null && v.cGrid !== undefined) {
    if (!Array.isArray(v.cGrid) || v.cGrid.length === 0 || !v.cGrid.every(positive))
      throw damaged(`params.cGrid is ${describe(v.cGrid)}, not a list of positive numbers`);
  }
}

function checkCalibration(damaged: Damaged, v: unknown, solver: SolverKind): void {
  if (!isObject(v)) throw damaged(`calibration is ${describe(v)}, not an object`);
  // softmax is calibrated natively, or (with a val split) temperature-scaled like the SVMs.
  if (solver === 'softmax' && v.method === 'softmax') return;
  if (v.method !== 'temperature')
    throw damaged(
      `calibration.method is ${describe(v.method)}, not ${solver === 'softmax' ? '"softmax" or ' : ''}"temperature" for a${solver === 'softmax' ? '' : 'n'} ${solver} classifier`,
    );
  const T = v.temperature;
  const [lo, hi] = TEMPERATURE_RANGE;
  if (typeof T !== 'number' || !Number.isFinite(T) || T < lo || T > hi)
    throw damaged(`calibration.temperature is ${describe(T)}, not a number between 1e-4 and 1000`);
  if (v.fittedOn !== 'val' && v.fittedOn !== 'train')
    throw damaged(`calibration.fittedOn is ${describe(v.fittedOn)}, not val or train`);
}

function nullOrString(v: unknown): boolean {
  return v === null || typeof v === 'string';
}

/**
 * Every number and name the predictions depend on is checked here, so a damaged file is refused with the field it
 * breaks instead of giving NaN or constant predictions with exit 0.
 */
export function parseClassifierJson(obj: unknown, source: string): ClassifierJson {
  if (!isObject(obj) || obj.format !== CLASSIFIER_FORMAT) {
    throw new ConvfeatError(`${source} is not a convfeat classifier file; pass a file written by convfeat fit-linear.`);
  }
  if (typeof obj.version !== 'number' || !Number.isInteger(obj.version) || obj.version < 1) {
    throw new ConvfeatError(
      `${source} is a damaged convfeat classifier file (version is ${describe(obj.version)}, not a positive integer); refit the classifier.`,
    );
  }
  if (obj.version > CLASSIFIER_VERSION) {
    throw new ConvfeatError(
      `${source} is a convfeat classifier file of version ${String(obj.version)}, newer than this convfeat reads (${CLASSIFIER_VERSION}); upgrade convfeat.`,
    );
  }
  const damaged: Damaged = (what) =>
    new ConvfeatError(`${source} is a damaged convfeat classifier file (${what}); refit the classifier.`);
  const j = obj as unknown as ClassifierJson;
  if (!(SOLVERS as readonly string[]).includes(j.solver)) throw damaged(`unknown solver ${JSON.stringify(j.solver)}`);
  checkClasses(damaged, j.classes);
  if (typeof j.dim !== 'number' || !Number.isInteger(j.dim) || j.dim < 1 || j.dim > 1 << 24)
    throw damaged(`dim is ${describe(j.dim)}, not a positive integer`);
  const K = j.classes.length;
  checkNumbers(damaged, 'weights', j.weights, K * j.dim, -MAX_PARAMETER, MAX_PARAMETER);
  checkNumbers(damaged, 'bias', j.bias, K, -MAX_PARAMETER, MAX_PARAMETER);
  checkScaler(damaged, j.scaler, j.dim);
  if (typeof j.C !== 'number' || !Number.isFinite(j.C) || j.C <= 0)
    throw damaged(`C is ${describe(j.C)}, not a positive number`);
  checkParams(damaged, j.params);
  checkCalibration(damaged, j.calibration, j.solver);
  if (typeof j.converged !== 'boolean') throw damaged(`converged is ${describe(j.converged)}, not true or false`);
  if (j.cSearch !== null && !isObject(j.cSearch)) throw damaged(`cSearch is ${describe(j.cSearch)}`);
  if (j.history !== null && !Array.isArray(j.history)) throw damaged(`history is ${describe(j.history)}`);
  if (!isObject(j.backbone)) throw damaged(`backbone is ${describe(j.backbone)}, not an object`);
  if (!nullOrString(j.backbone.fingerprint) || !nullOrString(j.backbone.model))
    throw damaged('backbone.fingerprint and backbone.model must be strings or null');
  if (!nullOrString(j.preprocessFingerprint))
    throw damaged(`preprocessFingerprint is ${describe(j.preprocessFingerprint)}`);
  if (j.metrics !== null && !isObject(j.metrics)) throw damaged(`metrics is ${describe(j.metrics)}`);
  return j;
}
