/**
 * The solvers behind one interface: train K × (dim + 1) weight matrices (bias last) for a list of row sets (the
 * folds of a C search, or all rows) and an ascending list of C, reusing each C's solution as the next one's warm
 * start. SVM jobs (one per class per row set) run across cores; softmax and ml-svm run in-process.
 */
import { PathPool } from './pool';
import { PathJob } from './ovr';
import { fitSoftmax, SoftmaxData, TrainingCurvePoint } from './softmax';
import { fitMlSvm } from './mlsvm';
import { subSeed } from '../util/prng';

export const SOLVERS = ['svm', 'softmax', 'ml-svm'] as const;
export type SolverKind = (typeof SOLVERS)[number];

export interface EngineData {
  X: Float32Array;
  dim: number;
  labels: Int32Array;
  classes: number;
  classWeight: Float64Array;
}

export interface EngineOptions {
  /** svm: dual violation eps (LIBLINEAR -e); softmax: L-BFGS gtol; ml-svm: its tol. */
  tol: number;
  maxIter: number;
  seed: number;
  threads: number;
}

export interface PathsOutput {
  /** [row set][C] → K × (dim + 1). */
  weights: Float64Array[][];
  /** softmax only: [row set][C] → the per-iteration training curve. */
  history?: TrainingCurvePoint[][][];
  /** svm only: true when some sub-problem hit maxIter (LIBLINEAR prints a warning then too). */
  hitMaxIter?: boolean;
}

/** Binary problems train one separator (class 1 positive); expand it to the K = 2 rows [−w, w]. */
function expandBinary(w: Float64Array, stride: number): Float64Array {
  const out = new Float64Array(2 * stride);
  for (let j = 0; j < stride; j++) {
    out[j] = -w[j];
    out[stride + j] = w[j];
  }
  return out;
}

/**
 * Walks the regularisation path one C at a time (ascending), each step warm-started from the previous one, so a
 * caller can score every C before deciding whether to go on. One stepper owns one worker pool for its lifetime.
 */
export interface PathStepper {
  /** Weights for every row set at this C: [row set] → K × (dim + 1). */
  step(C: number): Promise<Float64Array[]>;
  /** softmax: the training curve of each step, [step][row set]. */
  readonly history: TrainingCurvePoint[][][];
  /** svm: some sub-problem hit maxIter. */
  readonly hitMaxIter: boolean;
  close(): Promise<void>;
}

class SvmStepper implements PathStepper {
  readonly history: TrainingCurvePoint[][][] = [];
  hitMaxIter = false;
  private readonly pool: PathPool;
  private readonly positives: number[];
  private alphas: (Float64Array | undefined)[];
  private steps = 0;

  constructor(
    private readonly data: EngineData,
    private readonly rowSets: Int32Array[],
    private readonly opts: EngineOptions,
  ) {
    this.positives = data.classes === 2 ? [1] : Array.from({ length: data.classes }, (_, k) => k);
    this.alphas = new Array(rowSets.length * this.positives.length);
    this.pool = PathPool.create(data, opts.threads, this.alphas.length);
  }

  async step(C: number): Promise<Float64Array[]> {
    const { opts, positives, rowSets } = this;
    const jobs: PathJob[] = [];
    rowSets.forEach((rows, s) =>
      positives.forEach((positive, p) =>
        jobs.push({
          positive,
          rows,
          Cs: [C],
          eps: opts.tol,
          maxIter: opts.maxIter,
          // A fresh permutation stream per step, reproducible from the seed.
          seed: subSeed(opts.seed, s, positive, this.steps),
          alpha0: this.alphas[s * positives.length + p],
        }),
      ),
    );
    this.steps++;
    const results = await this.pool.run(jobs);
    results.forEach((r, i) => {
      this.alphas[i] = r.alpha;
      if (r.converged.includes(false)) this.hitMaxIter = true;
    });
    const stride = this.data.dim + 1;
    const K = this.data.classes;
    return rowSets.map((_, s) => {
      if (K === 2) return expandBinary(results[s].w, stride);
      const W = new Float64Array(K * stride);
      positives.forEach((_k, p) => W.set(results[s * positives.length + p].w, p * stride));
      return W;
    });
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

class SoftmaxStepper implements PathStepper {
  readonly history: TrainingCurvePoint[][][] = [];
  readonly hitMaxIter = false;
  private W0: (Float64Array | undefined)[];
  private readonly val?: SoftmaxData;

  constructor(
    private readonly data: EngineData,
    private readonly rowSets: Int32Array[],
    private readonly opts: EngineOptions,
    val?: { X: Float32Array; labels: Int32Array },
  ) {
    this.W0 = new Array(rowSets.length);
    if (val) this.val = { X: val.X, dim: data.dim, labels: val.labels, rows: allIndices(val.labels.length) };
  }

  async step(C: number): Promise<Float64Array[]> {
    const { data, opts } = this;
    const curves: TrainingCurvePoint[][] = [];
    const out = this.rowSets.map((rows, s) => {
      const res = fitSoftmax(
        { X: data.X, dim: data.dim, labels: data.labels, rows },
        { C, classes: data.classes, classWeight: data.classWeight, gtol: opts.tol, maxIter: opts.maxIter, m: 10 },
        this.val,
        this.W0[s],
      );
      this.W0[s] = res.W;
      curves.push(res.history);
      return res.W;
    });
    this.history.push(curves);
    return out;
  }

  async close(): Promise<void> {}
}

class MlSvmStepper implements PathStepper {
  readonly history: TrainingCurvePoint[][][] = [];
  readonly hitMaxIter = false;
  private readonly subsets: { X: Float32Array; y: Int32Array }[];

  constructor(
    private readonly data: EngineData,
    rowSets: Int32Array[],
    private readonly opts: EngineOptions,
  ) {
    // ml-svm wants its own rows anyway (it copies them into arrays of arrays).
    this.subsets = rowSets.map((rows) => {
      const X = new Float32Array(rows.length * data.dim);
      const y = new Int32Array(rows.length);
      rows.forEach((r, i) => {
        X.set(data.X.subarray(r * data.dim, (r + 1) * data.dim), i * data.dim);
        y[i] = data.labels[r];
      });
      return { X, y };
    });
  }

  async step(C: number): Promise<Float64Array[]> {
    const { data, opts } = this;
    return this.subsets.map(({ X, y }) => {
      const W = fitMlSvm(X, data.dim, y, {
        C,
        classes: data.classes,
        seed: opts.seed,
        tol: opts.tol,
        maxIter: opts.maxIter,
      });
      return data.classes === 2 ? expandBinary(W, data.dim + 1) : W;
    });
  }

  async close(): Promise<void> {}
}

export function createStepper(
  solver: SolverKind,
  data: EngineData,
  rowSets: Int32Array[],
  opts: EngineOptions,
  val?: { X: Float32Array; labels: Int32Array },
): PathStepper {
  if (solver === 'svm') return new SvmStepper(data, rowSets, opts);
  if (solver === 'softmax') return new SoftmaxStepper(data, rowSets, opts, val);
  return new MlSvmStepper(data, rowSets, opts);
}

/** The whole path for a fixed list of C (no early stop): [row set][C] → K × (dim + 1). */
export async function trainPaths(
  solver: SolverKind,
  data: EngineData,
  rowSets: Int32Array[],
  Cs: number[],
  opts: EngineOptions,
  val?: { X: Float32Array; labels: Int32Array },
): Promise<PathsOutput> {
  const stepper = createStepper(solver, data, rowSets, opts, val);
  const weights: Float64Array[][] = rowSets.map(() => []);
  try {
    for (const C of Cs) (await stepper.step(C)).forEach((W, s) => weights[s].push(W));
  } finally {
    await stepper.close();
  }
  const history = solver === 'softmax' ? rowSets.map((_, s) => stepper.history.map((h) => h[s])) : undefined;
  return { weights, history, hitMaxIter: stepper.hitMaxIter };
}

function allIndices(n: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
}

/** Scores = X W̃ᵀ (+ bias) for N rows: N × K, float32 like every array handed to callers. */
export function decisionValues(
  X: Float32Array,
  dim: number,
  W: Float64Array,
  K: number,
  rows?: Int32Array,
): Float32Array {
  const stride = dim + 1;
  const n = rows ? rows.length : X.length / dim;
  const out = new Float32Array(n * K);
  for (let i = 0; i < n; i++) {
    const off = (rows ? rows[i] : i) * dim;
    for (let k = 0; k < K; k++) {
      const wo = k * stride;
      let s = W[wo + dim];
      for (let j = 0; j < dim; j++) s += X[off + j] * W[wo + j];
      out[i * K + k] = s;
    }
  }
  return out;
}
