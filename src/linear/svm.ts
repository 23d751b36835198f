// Dual coordinate descent for L2-loss linear SVM: Hsieh, Chang, Lin, Keerthi, Sundararajan, ICML 2008.
/**
 * One binary problem, solved exactly as LIBLINEAR 2.3's `solve_l2r_l1l2_svc` does for the L2 loss (`-s 1`):
 *
 *   min_α  ½ αᵀ(Q + D)α − eᵀα,  α ≥ 0,   Q_ij = y_i y_j x_iᵀx_j,  D_ii = 1/(2 C_i),  upper bound U = ∞,
 *
 * visiting coordinates in a seeded random permutation, updating with the projected gradient, shrinking variables
 * that sit at the bound with a gradient beyond last sweep's PGmax, and stopping when PGmax − PGmin ≤ eps (on the
 * whole set, after un-shrinking once). The bias is an augmented feature of value 1 (LIBLINEAR `-B 1`), so it is
 * regularised like every other weight. X is float32 (the cache's precision); w and α are float64.
 */
import { Prng } from '../util/prng';

export interface BinaryProblem {
  /** Row-major N×dim features of the whole data set (shared between sub-problems and threads). */
  X: Float32Array;
  dim: number;
  /** Rows of X that form this problem (a fold's training rows, or every row). */
  rows: Int32Array;
  /** Class id of every row of X. */
  labels: Int32Array;
  /** The class treated as +1; every other class is −1 (one-vs-rest). */
  positive: number;
  /** C of each original class (C × class weight): per-sample C like scikit-learn's liblinear. */
  cOfClass: Float64Array;
}

export interface DcdOptions {
  /** Stopping tolerance on the maximal dual violation PGmax − PGmin (LIBLINEAR `-e`, default 0.1). */
  eps: number;
  /** Outer iterations (sweeps over the active set); LIBLINEAR's max_iter is 1000. */
  maxIter: number;
  seed: number;
}

export interface DcdResult {
  /** dim + 1 weights; the last one is the bias. */
  w: Float64Array;
  /** Dual variables, aligned with `rows` (reusable as a warm start for a larger C). */
  alpha: Float64Array;
  iterations: number;
  converged: boolean;
}

export const DCD_DEFAULTS: DcdOptions = { eps: 0.1, maxIter: 1000, seed: 1 };

function dot(X: Float32Array, off: number, w: Float64Array, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  const end4 = dim - (dim & 3);
  for (; j < end4; j += 4) {
    s0 += X[off + j] * w[j];
    s1 += X[off + j + 1] * w[j + 1];
    s2 += X[off + j + 2] * w[j + 2];
    s3 += X[off + j + 3] * w[j + 3];
  }
  for (; j < dim; j++) s0 += X[off + j] * w[j];
  return s0 + s1 + s2 + s3;
}

function axpy(a: number, X: Float32Array, off: number, w: Float64Array, dim: number): void {
  let j = 0;
  const end4 = dim - (dim & 3);
  for (; j < end4; j += 4) {
    w[j] += a * X[off + j];
    w[j + 1] += a * X[off + j + 1];
    w[j + 2] += a * X[off + j + 2];
    w[j + 3] += a * X[off + j + 3];
  }
  for (; j < dim; j++) w[j] += a * X[off + j];
}

export function solveL2rL2Svc(p: BinaryProblem, opts: DcdOptions, alphaInit?: Float64Array): DcdResult {
  const { X, dim, rows, labels, positive, cOfClass } = p;
  const l = rows.length;
  const w = new Float64Array(dim + 1);
  const alpha = new Float64Array(l);
  const y = new Int8Array(l);
  const diag = new Float64Array(l);
  const QD = new Float64Array(l);
  const index = new Int32Array(l);
  for (let s = 0; s < l; s++) {
    const r = rows[s];
    const off = r * dim;
    y[s] = labels[r] === positive ? 1 : -1;
    diag[s] = 0.5 / cOfClass[labels[r]];
    let xx = 1; // the bias feature
    for (let j = 0; j < dim; j++) xx += X[off + j] * X[off + j];
    QD[s] = diag[s] + xx;
    index[s] = s;
    if (alphaInit && alphaInit[s] > 0) {
      // Any α ≥ 0 is feasible for the L2 loss (U = ∞): warm starts across C need no projection.
      const a = alphaInit[s];
      alpha[s] = a;
      axpy(y[s] * a, X, off, w, dim);
      w[dim] += y[s] * a;
    }
  }

  const rng = new Prng(opts.seed);
  let activeSize = l;
  let PGmaxOld = Infinity;
  let PGminOld = -Infinity;
  let iter = 0;
  let converged = false;
  while (iter < opts.maxIter) {
    let PGmaxNew = -Infinity;
    let PGminNew = Infinity;
    for (let i = 0; i < activeSize; i++) {
      const j = i + rng.below(activeSize - i);
      const t = index[i];
      index[i] = index[j];
      index[j] = t;
    }
    for (let s = 0; s < activeSize; s++) {
      const i = index[s];
      const yi = y[i];
      const off = rows[i] * dim;
      const G = yi * (dot(X, off, w, dim) + w[dim]) - 1 + alpha[i] * diag[i];
      let PG = 0;
      if (alpha[i] === 0) {
        if (G > PGmaxOld) {
          activeSize--;
          index[s] = index[activeSize];
          index[activeSize] = i;
          s--;
          continue;
        } else if (G < 0) {
          PG = G;
        }
      } else {
        PG = G;
      }
      if (PG > PGmaxNew) PGmaxNew = PG;
      if (PG < PGminNew) PGminNew = PG;
      if (Math.abs(PG) > 1e-12) {
        const old = alpha[i];
        const a = Math.max(old - G / QD[i], 0);
        alpha[i] = a;
        const d = (a - old) * yi;
        axpy(d, X, off, w, dim);
        w[dim] += d;
      }
    }
    iter++;
    if (PGmaxNew - PGminNew <= opts.eps) {
      if (activeSize === l) {
        converged = true;
        break;
      }
      activeSize = l;
      PGmaxOld = Infinity;
      PGminOld = -Infinity;
      continue;
    }
    PGmaxOld = PGmaxNew;
    PGminOld = PGminNew;
    if (PGmaxOld <= 0) PGmaxOld = Infinity;
    if (PGminOld >= 0) PGminOld = -Infinity;
  }
  void PGminOld; // kept for parity with LIBLINEAR (only used by the L1 loss's upper-bound shrinking)
  return { w, alpha, iterations: iter, converged };
}
