/**
 * Multinomial logistic regression with L2, solved by L-BFGS (./lbfgs.ts). The objective is LIBLINEAR's and
 * scikit-learn's
 *
 *   C · Σ_i s_i · (−log softmax(W x_i + b)_{y_i}) + ½ ‖W‖²,
 *
 * with s_i the sample's class weight and the bias b NOT regularised (as scikit-learn's lbfgs solver does). L-BFGS
 * minimises the same function divided by C · Σ s_i (mean-loss scale), so `gtol` means the same for any N or C.
 * Log-sum-exp subtracts the row maximum, so large scores never overflow.
 */
import { minimizeLbfgs, LbfgsStop } from './lbfgs';

export interface SoftmaxData {
  X: Float32Array;
  dim: number;
  labels: Int32Array;
  rows: Int32Array;
}

export interface SoftmaxOptions {
  C: number;
  classes: number;
  classWeight: Float64Array;
  gtol: number;
  maxIter: number;
  m: number;
}

export interface TrainingCurvePoint {
  iteration: number;
  trainLoss: number;
  trainAccuracy: number;
  valLoss?: number;
  valAccuracy?: number;
}

export interface SoftmaxResult {
  /** K × (dim + 1), the bias last in each row. */
  W: Float64Array;
  history: TrainingCurvePoint[];
  iterations: number;
  stop: LbfgsStop;
}

interface PassStats {
  /** Mean (unweighted) cross-entropy and accuracy of the rows: what a training curve shows. */
  loss: number;
  accuracy: number;
}

/**
 * One pass over the rows: returns Σ s_i ℓ_i and, when G is given, adds Σ s_i (p_i − e_{y_i}) x̃_iᵀ into it.
 */
function pass(
  d: SoftmaxData,
  K: number,
  W: Float64Array,
  sw: Float64Array | null,
  G: Float64Array | null,
  stats: PassStats,
): number {
  const { X, dim, labels, rows } = d;
  const stride = dim + 1;
  const z = new Float64Array(K);
  let weighted = 0;
  let plain = 0;
  let correct = 0;
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    const off = row * dim;
    const yi = labels[row];
    let zmax = -Infinity;
    let arg = 0;
    for (let k = 0; k < K; k++) {
      const wo = k * stride;
      let s0 = W[wo + dim];
      let s1 = 0;
      let j = 0;
      for (; j + 1 < dim; j += 2) {
        s0 += X[off + j] * W[wo + j];
        s1 += X[off + j + 1] * W[wo + j + 1];
      }
      if (j < dim) s0 += X[off + j] * W[wo + j];
      const v = s0 + s1;
      z[k] = v;
      if (v > zmax) {
        zmax = v;
        arg = k;
      }
    }
    // ℓ = log Σ exp(z_k − z_max) − (z_y − z_max): finite even when exp(z_y − z_max) underflows to 0.
    const zy = z[yi] - zmax;
    let sum = 0;
    for (let k = 0; k < K; k++) {
      z[k] = Math.exp(z[k] - zmax);
      sum += z[k];
    }
    const loss = Math.log(sum) - zy;
    const wi = sw ? sw[yi] : 1;
    weighted += wi * loss;
    plain += loss;
    if (arg === yi) correct++;
    if (G) {
      for (let k = 0; k < K; k++) {
        const coef = wi * (z[k] / sum - (k === yi ? 1 : 0));
        if (coef === 0) continue;
        const go = k * stride;
        for (let j = 0; j < dim; j++) G[go + j] += coef * X[off + j];
        G[go + dim] += coef;
      }
    }
  }
  stats.loss = rows.length ? plain / rows.length : 0;
  stats.accuracy = rows.length ? correct / rows.length : 0;
  return weighted;
}

/** Mean cross-entropy and accuracy of W on some rows (no gradient). */
export function softmaxStats(d: SoftmaxData, K: number, W: Float64Array): PassStats {
  const stats = { loss: 0, accuracy: 0 };
  pass(d, K, W, null, null, stats);
  return stats;
}

/**
 * The L-BFGS objective (mean-loss scale) and its gradient; `last` holds the train loss and accuracy of the most
 * recent evaluation. Exported for the gradient check in the tests.
 */
export function softmaxObjective(
  train: SoftmaxData,
  opts: SoftmaxOptions,
): { fg: (W: Float64Array, G: Float64Array) => number; last: PassStats } {
  const K = opts.classes;
  const dim = train.dim;
  const stride = dim + 1;
  let total = 0;
  for (let r = 0; r < train.rows.length; r++) total += opts.classWeight[train.labels[train.rows[r]]];
  const scale = 1 / total;
  const ridge = 1 / (opts.C * total);
  const last: PassStats = { loss: 0, accuracy: 0 };
  const fg = (W: Float64Array, G: Float64Array): number => {
    G.fill(0);
    const data = pass(train, K, W, opts.classWeight, G, last);
    let reg = 0;
    for (let k = 0; k < K; k++) {
      const o = k * stride;
      for (let j = 0; j < dim; j++) {
        reg += W[o + j] * W[o + j];
        G[o + j] = G[o + j] * scale + ridge * W[o + j];
      }
      G[o + dim] *= scale;
    }
    return data * scale + 0.5 * ridge * reg;
  };
  return { fg, last };
}

export function fitSoftmax(
  train: SoftmaxData,
  opts: SoftmaxOptions,
  val?: SoftmaxData,
  W0?: Float64Array,
): SoftmaxResult {
  const K = opts.classes;
  const stride = train.dim + 1;
  const { fg, last } = softmaxObjective(train, opts);
  const history: TrainingCurvePoint[] = [];
  // The line search's last evaluation is the accepted point, so `last` holds its train loss and accuracy.
  const record = (iteration: number, W: Float64Array): void => {
    const point: TrainingCurvePoint = { iteration, trainLoss: last.loss, trainAccuracy: last.accuracy };
    if (val && val.rows.length) {
      const v = softmaxStats(val, K, W);
      point.valLoss = v.loss;
      point.valAccuracy = v.accuracy;
    }
    history.push(point);
  };
  const x0 = W0 ? Float64Array.from(W0) : new Float64Array(K * stride);
  fg(x0, new Float64Array(x0.length));
  record(0, x0);
  const res = minimizeLbfgs(fg, x0, { m: opts.m, gtol: opts.gtol, maxIter: opts.maxIter }, (it, W) => record(it, W));
  return { W: res.x, history, iterations: res.iterations, stop: res.stop };
}
