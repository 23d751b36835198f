import { Prng } from '../../src/util/prng';

/** K Gaussian blobs in `dim` dimensions, class centres on scaled unit axes (deterministic). */
export function blobs(
  n: number,
  dim: number,
  K: number,
  seed: number,
  spread = 0.5,
  centre = 3,
): { X: Float32Array; y: Int32Array } {
  const rng = new Prng(seed);
  const g = (): number => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const X = new Float32Array(n * dim);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % K;
    y[i] = k;
    for (let j = 0; j < dim; j++) X[i * dim + j] = (j % K === k ? centre : 0) + spread * g();
  }
  return { X, y };
}

export function accuracyOf(pred: Int32Array, y: Int32Array): number {
  let c = 0;
  for (let i = 0; i < y.length; i++) if (pred[i] === y[i]) c++;
  return c / y.length;
}
