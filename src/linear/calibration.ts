/**
 * Probabilities for SVM scores by temperature scaling (Guo et al., ICML 2017): p = softmax(f(x) / T), with T > 0
 * chosen by a 1-D golden-section search over log T that minimises the log-loss on the val split (or, without one,
 * on the training rows, where margins are optimistic, so T then comes out smaller than it should). One parameter
 * keeps the argmax, hence predict() and predictProba() always agree.
 */

/** Writes row-wise softmax(scores / T) into out (numerically stable). */
export function softmaxRows(scores: Float32Array, K: number, T: number, out: Float32Array = new Float32Array(scores.length)): Float32Array {
  const n = scores.length / K;
  for (let i = 0; i < n; i++) {
    const o = i * K;
    let m = -Infinity;
    for (let k = 0; k < K; k++) m = Math.max(m, scores[o + k] / T);
    let sum = 0;
    for (let k = 0; k < K; k++) sum += Math.exp(scores[o + k] / T - m);
    for (let k = 0; k < K; k++) out[o + k] = Math.exp(scores[o + k] / T - m) / sum;
  }
  return out;
}

export function meanLogLoss(scores: Float32Array, K: number, labels: Int32Array, T: number): number {
  const n = scores.length / K;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const o = i * K;
    let m = -Infinity;
    for (let k = 0; k < K; k++) m = Math.max(m, scores[o + k] / T);
    let sum = 0;
    for (let k = 0; k < K; k++) sum += Math.exp(scores[o + k] / T - m);
    total += Math.log(sum) + m - scores[o + labels[i]] / T;
  }
  return n ? total / n : 0;
}

/** Golden-section search of log10 T in [−4, 3]; the log-loss is unimodal in T for fixed scores. */
export function fitTemperature(scores: Float32Array, K: number, labels: Int32Array): number {
  const phi = (Math.sqrt(5) - 1) / 2;
  let a = -4;
  let b = 3;
  const loss = (u: number): number => meanLogLoss(scores, K, labels, 10 ** u);
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
