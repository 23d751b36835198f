/**
 * One-vs-rest SVM jobs and the regularisation path: each job is one class (positive) on one set of rows, solved for
 * an ascending list of C with warm starts (the dual α of a smaller C is feasible for a larger one). Jobs are pure
 * functions of shared data, so the same code runs in-process or in a worker thread (see ./pool.ts, ./worker.ts).
 */
import { solveL2rL2Svc, DcdOptions } from './svm';

export interface SharedProblem {
  X: Float32Array;
  dim: number;
  labels: Int32Array;
  /** Per-class weight (1 everywhere, or scikit-learn's "balanced" n / (K · n_k)). */
  classWeight: Float64Array;
}

export interface PathJob {
  positive: number;
  rows: Int32Array;
  /** Ascending C values. */
  Cs: number[];
  eps: number;
  maxIter: number;
  seed: number;
  /** Warm start for the first C (the α this job returned for a smaller C), aligned with rows. */
  alpha0?: Float64Array;
}

export interface PathResult {
  /** |Cs| × (dim + 1) weights, the bias last in each row. */
  w: Float64Array;
  iterations: number[];
  converged: boolean[];
  /** α at the last C, for the next warm start. */
  alpha: Float64Array;
}

export function runPathJob(shared: SharedProblem, job: PathJob): PathResult {
  const stride = shared.dim + 1;
  const w = new Float64Array(job.Cs.length * stride);
  const iterations: number[] = [];
  const converged: boolean[] = [];
  const cOfClass = new Float64Array(shared.classWeight.length);
  let alpha: Float64Array | undefined = job.alpha0;
  const opts: DcdOptions = { eps: job.eps, maxIter: job.maxIter, seed: job.seed };
  job.Cs.forEach((C, c) => {
    for (let k = 0; k < cOfClass.length; k++) cOfClass[k] = C * shared.classWeight[k];
    const res = solveL2rL2Svc(
      { X: shared.X, dim: shared.dim, rows: job.rows, labels: shared.labels, positive: job.positive, cOfClass },
      opts,
      alpha,
    );
    w.set(res.w, c * stride);
    alpha = res.alpha;
    iterations.push(res.iterations);
    converged.push(res.converged);
  });
  return { w, iterations, converged, alpha: alpha ?? new Float64Array(job.rows.length) };
}
