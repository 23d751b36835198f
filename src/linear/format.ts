/**
 * The classifier file: plain JSON with a format tag and version, checked field by field on the way in so that a
 * file that is not ours, or is damaged, fails with one sentence instead of a TypeError deep in predict().
 */
import { ConvfeatError } from '../util/errors';
import type { ScalerJson } from './scaler';
import type { CSearchResult } from './search';
import type { TrainingCurvePoint } from './softmax';
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

function finiteArray(v: unknown, length: number): boolean {
  return Array.isArray(v) && v.length === length && v.every((x) => typeof x === 'number' && Number.isFinite(x));
}

export function parseClassifierJson(obj: unknown, source: string): ClassifierJson {
  if (!isObject(obj) || obj.format !== CLASSIFIER_FORMAT) {
    throw new ConvfeatError(`${source} is not a convfeat classifier file; pass a file written by convfeat fit-linear.`);
  }
  if (typeof obj.version !== 'number' || obj.version > CLASSIFIER_VERSION) {
    throw new ConvfeatError(
      `${source} is a convfeat classifier file of version ${String(obj.version)}, newer than this convfeat reads (${CLASSIFIER_VERSION}); upgrade convfeat.`,
    );
  }
  const damaged = (what: string): ConvfeatError =>
    new ConvfeatError(`${source} is a damaged convfeat classifier file (${what}); refit the classifier.`);
  const j = obj as unknown as ClassifierJson;
  if (!(SOLVERS as readonly string[]).includes(j.solver)) throw damaged(`unknown solver ${JSON.stringify(j.solver)}`);
  if (!Array.isArray(j.classes) || j.classes.length < 2 || j.classes.some((c) => typeof c !== 'string'))
    throw damaged('classes');
  if (!Number.isInteger(j.dim) || j.dim < 1) throw damaged('dim');
  const K = j.classes.length;
  if (!finiteArray(j.weights, K * j.dim)) throw damaged(`weights must be ${K} × ${j.dim} finite numbers`);
  if (!finiteArray(j.bias, K)) throw damaged(`bias must be ${K} finite numbers`);
  if (!isObject(j.scaler) || j.scaler.dim !== j.dim) throw damaged('scaler');
  if (!isObject(j.params)) throw damaged('params');
  if (!isObject(j.calibration)) throw damaged('calibration');
  if (j.calibration.method === 'temperature' && !(j.calibration.temperature > 0)) throw damaged('temperature');
  if (!isObject(j.backbone)) throw damaged('backbone');
  return j;
}
