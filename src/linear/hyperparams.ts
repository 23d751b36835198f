/**
 * The classifier's hyper-parameters: what a caller may set, the defaults (`convfeat fit-linear`'s, so code and CLI fit
 * the same classifier), and the one check at the door whose messages name each option as its reader knows it.
 */
import { UsageError } from '../util/errors';
import { param } from '../util/params';
import { integerInRange, invalid, oneOf, positiveNumber } from '../util/validate';
import { SCALE_KINDS, type ScaleKind } from './scaler';
import { SOLVERS, type SolverKind } from './train';

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

export const DEFAULT_TOL: Record<SolverKind, number> = { svm: 0.1, softmax: 1e-4, 'ml-svm': 1e-4 };
export const DEFAULT_MAX_ITER: Record<SolverKind, number> = { svm: 1000, softmax: 500, 'ml-svm': 10000 };

/** Validates options once, at the door; the message names the option as the reader knows it (util/params). */
export function checkParams(options: LinearClassifierOptions): LinearClassifierParams {
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
