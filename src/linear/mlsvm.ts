/**
 * Adapter for the `ml-svm` package (2.1.2): a simplified SMO for one binary, hinge-loss SVM over a dense N×N kernel
 * held as arrays of arrays. We wrap it one-vs-rest, turn its min-max "whitening" off (it divides by max − min and
 * gives NaN on a constant column) and drop constant columns before handing data over (they carry no signal and
 * still cost kernel time), feed it our seeded PRNG instead of Math.random, and refuse data above ML_SVM_MAX_ROWS:
 * its kernel and its O(N²)-per-pass margin updates make it minutes-slow beyond that (measured in bench/solvers).
 * Its bias is unregularised (standard SMO), unlike LIBLINEAR's augmented bias; it has one C for all samples, so
 * class weights are refused by the classifier for this solver.
 */
import * as fs from 'fs';
import { createRequire } from 'module';
import { ConvfeatError } from '../util/errors';
import { Prng, subSeed } from '../util/prng';

/** Largest training set we let ml-svm see; see bench/solvers/README.md for the timings behind it. */
export const ML_SVM_MAX_ROWS = 2000;

interface MlSvmOptions {
  C: number;
  tol: number;
  maxPasses: number;
  maxIterations: number;
  kernel: 'linear';
  whitening: boolean;
  random: () => number;
}
interface MlSvmModel {
  train(features: number[][], labels: number[]): void;
  W?: number[];
  b: number;
}
type MlSvmCtor = new (options: Partial<MlSvmOptions>) => MlSvmModel;

/**
 * ml-svm requires ml-kernel, which requires ESM-only kernel packages (ml-kernel-polynomial 2.x). Node ≥ 20.19 loads
 * them (require(esm)); jest's module system on Node 20 cannot. Then we evaluate ml-svm's own svm.js with ml-kernel
 * replaced by a copy of ml-kernel's linear branch (X·Lᵀ with ml-matrix, the only kernel we use), so the SMO under
 * test is still the package's code. Loaded lazily: the svm and softmax solvers never touch it.
 */
let mlSvm: MlSvmCtor | undefined;
function loadMlSvm(): MlSvmCtor {
  if (mlSvm) return mlSvm;
  try {
    mlSvm = require('ml-svm') as MlSvmCtor;
  } catch (e) {
    if (!/ES Module|ERR_REQUIRE_ESM|import/i.test(String((e as Error).message))) throw e;
    const file = require.resolve('ml-svm');
    const requireFromSvm = createRequire(file);
    const { Matrix } = requireFromSvm('ml-matrix') as {
      Matrix: new (a: number[][]) => { mmul(b: unknown): unknown; transposeView(): unknown };
    };
    class LinearKernel {
      constructor(type: string) {
        if (type !== 'linear') throw new Error(`only the linear kernel is available here, not ${type}`);
      }
      compute(inputs: number[][], landmarks: number[][] = inputs): unknown {
        return new Matrix(inputs).mmul(new Matrix(landmarks).transposeView());
      }
    }
    const mod = { exports: {} as unknown };
    const req = (id: string): unknown => (id === 'ml-kernel' ? LinearKernel : requireFromSvm(id));
    new Function('require', 'module', 'exports', fs.readFileSync(file, 'utf8'))(req, mod, mod.exports);
    mlSvm = mod.exports as MlSvmCtor;
  }
  return mlSvm;
}

export interface MlSvmFitOptions {
  C: number;
  classes: number;
  seed: number;
  tol: number;
  maxIter: number;
}

/** Checks the size ml-svm can handle; the sentence says what to use instead. */
export function assertMlSvmSize(rows: number): void {
  if (rows > ML_SVM_MAX_ROWS) {
    throw new ConvfeatError(
      `The ml-svm solver handles at most ${ML_SVM_MAX_ROWS} training rows (it builds an N×N kernel) but received ${rows}; use --solver svm.`,
    );
  }
}

/** Returns K × (dim + 1) weights (bias last), or 1 × (dim + 1) for two classes (class 1 positive). */
export function fitMlSvm(X: Float32Array, dim: number, labels: Int32Array, opts: MlSvmFitOptions): Float64Array {
  const n = labels.length;
  assertMlSvmSize(n);
  const keep: number[] = [];
  for (let j = 0; j < dim; j++) {
    const first = X[j];
    for (let i = 1; i < n; i++) {
      if (X[i * dim + j] !== first) {
        keep.push(j);
        break;
      }
    }
  }
  const features: number[][] = new Array(n);
  for (let i = 0; i < n; i++) {
    const row = new Array<number>(keep.length);
    for (let c = 0; c < keep.length; c++) row[c] = X[i * dim + keep[c]];
    features[i] = row;
  }
  const problems = opts.classes === 2 ? [1] : Array.from({ length: opts.classes }, (_, k) => k);
  const out = new Float64Array(problems.length * (dim + 1));
  problems.forEach((positive, p) => {
    const y = Array.from(labels, (l) => (l === positive ? 1 : -1));
    if (!y.includes(1) || !y.includes(-1)) {
      // A class absent from this training set: score it below every other (ml-svm cannot train one-sided data).
      out[p * (dim + 1) + dim] = -1;
      return;
    }
    const rng = new Prng(subSeed(opts.seed, positive));
    const SVM = loadMlSvm();
    const svm = new SVM({
      C: opts.C,
      tol: opts.tol,
      maxIterations: opts.maxIter,
      kernel: 'linear',
      whitening: false,
      random: () => rng.next(),
    });
    try {
      svm.train(features, y);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new ConvfeatError(`The ml-svm solver did not finish (${why}); use --solver svm or a smaller C.`);
    }
    const W = svm.W!;
    const o = p * (dim + 1);
    keep.forEach((j, c) => (out[o + j] = W[c]));
    out[o + dim] = svm.b;
  });
  return out;
}
