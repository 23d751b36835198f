/**
 * Probabilities for SVM scores by temperature scaling (Guo et al., ICML 2017): p = softmax(f(x) / T), with T > 0
 * chosen by a 1-D golden-section search over log T that minimises the log-loss on the val split (or, without one,
 * on the training rows, where margins are optimistic, so T then comes out smaller than it should). One parameter
 * keeps the argmax, hence predict() and predictProba() always agree.
 *
 * The fit uses smoothed targets (1 − ε on the label, ε spread over the others, ε = 1/(n + 2), the rule of succession):
 * n correct validation images cannot show an error rate below about 1/(n + 2). Without it a perfectly separated val
 * split drives T to its lower bound and every probability to exactly 1.
 */

/** log Σ_k exp(scores[o + k] / T) for one row, computed stably (max subtracted). */
function rowLogSumExp(scores: Float32Array, o: number, K: number, T: number): number {
  let m = -Infinity;
  for (let k = 0; k < K; k++) m = Math.max(m, scores[o + k] / T);
  let sum = 0;
  for (let k = 0; k < K; k++) sum += Math.exp(scores[o + k] / T - m);
  return Math.log(sum) + m;
}

/** Writes row-wise softmax(scores / T) into out (numerically stable). */
export function softmaxRows(
  scores: Float32Array,
  K: number,
  T: number,
  out: Float32Array = new Float32Array(scores.length),
): Float32Array {
  const n = scores.length / K;
  for (let i = 0; i < n; i++) {
    const o = i * K;
    const logZ = rowLogSumExp(scores, o, K, T);
    for (let k = 0; k < K; k++) out[o + k] = Math.exp(scores[o + k] / T - logZ);
  }
  return out;
}

export function meanLogLoss(scores: Float32Array, K: number, labels: Int32Array, T: number): number {
  const n = scores.length / K;
  let total = 0;
  for (let i = 0; i < n; i++) total += rowLogSumExp(scores, i * K, K, T) - scores[i * K + labels[i]] / T;
  return n ? total / n : 0;
}

/** Cross-entropy against smoothed targets: (1 − eps) on the label, eps / (K − 1) on every other class. */
export function smoothedLogLoss(scores: Float32Array, K: number, labels: Int32Array, T: number, eps: number): number {
  const n = scores.length / K;
  const other = K > 1 ? eps / (K - 1) : 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const o = i * K;
    const logZ = rowLogSumExp(scores, o, K, T);
    for (let k = 0; k < K; k++) {
      const target = k === labels[i] ? 1 - eps : other;
      if (target > 0) total -= target * (scores[o + k] / T - logZ);
    }
  }
  return n ? total / n : 0;
}

/** Golden-section search of log10 T in [−4, 3]; the smoothed log-loss is unimodal in T for fixed scores. */
export function fitTemperature(scores: Float32Array, K: number, labels: Int32Array): number {
  const phi = (Math.sqrt(5) - 1) / 2;
  let a = -4;
  let b = 3;
  const eps = 1 / (labels.length + 2);
  const loss = (u: number): number => smoothedLogLoss(scores, K, labels, 10 ** u, eps);
  let c = b - phi * (b - a);
  let d = a + phi * (b - a);
  let fc = loss(c);
  let fd = loss(d);
  for (let it = 0; it < 60 && b - a > 1e-4; it++) {
    if (fc <= fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - phi * (b - a);
      fc = loss(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + phi * (b - a);
      fd = loss(d);
    }
  }
  return Number((10 ** ((a + b) / 2)).toPrecision(6));
}
