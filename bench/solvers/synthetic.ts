/**
 * Synthetic classification data for the solver bench: K Gaussian classes in D dimensions whose means are random
 * directions at a fixed distance, plus isotropic noise, so accuracy is high but not perfect (like embeddings of
 * related classes). Values are rounded to 3 decimals so the LIBLINEAR text file carries exactly the same numbers.
 */
import { Prng } from '../../src/util/prng';

export interface Synthetic {
  X: Float32Array;
  y: Int32Array;
  n: number;
  dim: number;
  classes: number;
}

function gaussian(rng: Prng): number {
  const u = 1 - rng.next();
  const v = rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export function synthetic(
  n: number,
  dim: number,
  classes: number,
  seed: number,
  separation = 0.35,
  shared?: boolean,
): Synthetic {
  const rng = new Prng(seed);
  const means = new Float64Array(classes * dim);
  for (let i = 0; i < means.length; i++) means[i] = gaussian(rng) * separation;
  const X = shared ? new Float32Array(new SharedArrayBuffer(n * dim * 4)) : new Float32Array(n * dim);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % classes;
    y[i] = k;
    for (let j = 0; j < dim; j++) X[i * dim + j] = Math.round((means[k * dim + j] + gaussian(rng)) * 1000) / 1000;
  }
  return { X, y, n, dim, classes };
}
