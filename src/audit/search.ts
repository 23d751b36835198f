/**
 * Exact cosine search over cached embeddings by blocked matrix products: rows are L2-normalised once, then a block
 * of queries is multiplied against a block of base rows at a time, so memory stays at the N×D matrix plus one
 * block of scores however large N grows, and every answer is exact (the reference the vector-index benchmark in
 * bench/audit measures recall against). Cost is N·M·D multiply-adds: about a minute for 10⁴ × 10⁴ × 2,048 on one
 * core, so beyond a few tens of thousands of rows a vector index pays (bench/README.md, "Audit").
 */
import { integerInRange, invalid, numberInRange } from '../util/validate';

/** Query rows per block × base rows per block: 64 × 256 × 2,048 floats keep both blocks inside L2 cache. */
const QUERY_BLOCK = 64;
const BASE_BLOCK = 256;

/** A copy of X with every row scaled to unit length; an all-zero row stays zero (similar to nothing). */
export function normalizeRows(X: Float32Array, dim: number): Float32Array {
  integerInRange('dim', dim, 1, 1 << 24);
  if (!(X instanceof Float32Array) || X.length % dim !== 0)
    throw invalid('X', `a Float32Array whose length is a multiple of ${dim}`, X);
  const out = new Float32Array(X.length);
  for (let off = 0; off < X.length; off += dim) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += X[off + j]! * X[off + j]!;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < dim; j++) out[off + j] = X[off + j]! * inv;
  }
  return out;
}

/** Dot product of rows at offsets a and b (the index path uses it too, so both paths give bit-identical scores). */
export function dot(A: Float32Array, a: number, B: Float32Array, b: number, dim: number): number {
  // Four accumulators let V8 keep independent multiply-add chains in flight.
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  for (; j + 3 < dim; j += 4) {
    s0 += A[a + j]! * B[b + j]!;
    s1 += A[a + j + 1]! * B[b + j + 1]!;
    s2 += A[a + j + 2]! * B[b + j + 2]!;
    s3 += A[a + j + 3]! * B[b + j + 3]!;
  }
  for (; j < dim; j++) s0 += A[a + j]! * B[b + j]!;
  return s0 + s1 + s2 + s3;
}

export interface Neighbours {
  k: number;
  /** n×k base row ids, best first; −1 where fewer than k candidates exist. */
  indices: Int32Array;
  /** n×k cosine similarities, matching indices (−Infinity where indices is −1). */
  scores: Float32Array;
}

export interface SimilarPair {
  a: number;
  b: number;
  score: number;
}

export interface SelfSearchOptions {
  /** Neighbours to keep per row (excluding the row itself). */
  k: number;
  /** Collect every pair i < j with cosine ≥ this (omit to collect none). */
  pairThreshold?: number;
  /** Only rows with allowed(i, j) true count as neighbours (e.g. same class); pairs are not filtered. */
  allowed?: (i: number, j: number) => boolean;
}

/** Inserts (id, score) into row r's sorted top-k list if it beats the current k-th. */
function offer(nb: Neighbours, r: number, id: number, score: number): void {
  const { k, indices, scores } = nb;
  const base = r * k;
  if (score <= scores[base + k - 1]!) return;
  let p = k - 1;
  while (p > 0 && scores[base + p - 1]! < score) {
    scores[base + p] = scores[base + p - 1]!;
    indices[base + p] = indices[base + p - 1]!;
    p--;
  }
  scores[base + p] = score;
  indices[base + p] = id;
}

function emptyNeighbours(n: number, k: number): Neighbours {
  return { k, indices: new Int32Array(n * k).fill(-1), scores: new Float32Array(n * k).fill(-Infinity) };
}

/**
 * All-pairs search within one normalised matrix: the k nearest other rows of every row, and (optionally) every pair
 * above a similarity threshold. Each pair's product is computed once (upper triangle).
 */
export function selfSearch(
  Xn: Float32Array,
  dim: number,
  options: SelfSearchOptions,
): { neighbours: Neighbours; pairs: SimilarPair[] } {
  const n = Xn.length / dim;
  const k = integerInRange('k', options.k, 1, 10_000);
  const threshold =
    options.pairThreshold === undefined ? Infinity : numberInRange('pairThreshold', options.pairThreshold, -1, 1);
  const allowed = options.allowed;
  const nb = emptyNeighbours(n, k);
  const pairs: SimilarPair[] = [];
  for (let q0 = 0; q0 < n; q0 += QUERY_BLOCK) {
    const q1 = Math.min(n, q0 + QUERY_BLOCK);
    for (let b0 = q0; b0 < n; b0 += BASE_BLOCK) {
      const b1 = Math.min(n, b0 + BASE_BLOCK);
      for (let i = q0; i < q1; i++) {
        const ai = i * dim;
        for (let j = Math.max(b0, i + 1); j < b1; j++) {
          const s = dot(Xn, ai, Xn, j * dim, dim);
          if (s >= threshold) pairs.push({ a: i, b: j, score: s });
          if (!allowed || allowed(i, j)) {
            offer(nb, i, j, s);
            offer(nb, j, i, s);
          }
        }
      }
    }
  }
  pairs.sort((x, y) => y.score - x.score || x.a - y.a || x.b - y.b);
  return { neighbours: nb, pairs };
}

/** The k nearest base rows of each query row (both normalised), exact. */
export function searchNearest(
  queries: Float32Array,
  base: Float32Array,
  dim: number,
  k: number,
  exclude?: (query: number, baseRow: number) => boolean,
): Neighbours {
  const nq = queries.length / dim;
  const nbase = base.length / dim;
  integerInRange('k', k, 1, 10_000);
  const nb = emptyNeighbours(nq, k);
  for (let q0 = 0; q0 < nq; q0 += QUERY_BLOCK) {
    const q1 = Math.min(nq, q0 + QUERY_BLOCK);
    for (let b0 = 0; b0 < nbase; b0 += BASE_BLOCK) {
      const b1 = Math.min(nbase, b0 + BASE_BLOCK);
      for (let i = q0; i < q1; i++) {
        for (let j = b0; j < b1; j++) {
          if (exclude && exclude(i, j)) continue;
          offer(nb, i, j, dot(queries, i * dim, base, j * dim, dim));
        }
      }
    }
  }
  return nb;
}
