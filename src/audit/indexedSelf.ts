/**
 * The audit's all-pairs pass through the vector index: each row asks the index for its nearest candidates instead
 * of scoring all N rows, so the pass costs N index queries instead of N²/2 products. Scores are recomputed exactly.
 * Where a row's candidates hold fewer than k allowed neighbours (e.g. a mislabelled image whose nearest rows are all
 * of another class), that row alone is searched exactly, so the outlier score never sees a missing neighbour. Pairs
 * above the threshold come from the candidate lists: a near-duplicate group larger than CANDIDATES rows may lose
 * some pairs (the exact pass, `--exact`, finds them all).
 */
import { dot, type Neighbours, type SelfSearchOptions, type SimilarPair } from './search';
import { openRowsIndex, type IndexRows, type IndexSearchOptions } from './vectorIndex';

/** Candidates per row asked of the index (at least 2k + 16): room for the same-class filter and byte copies. */
const CANDIDATES = 48;

export function indexedSelfSearch(
  cacheDir: string,
  rows: IndexRows,
  options: SelfSearchOptions,
  indexOptions: IndexSearchOptions = {},
): { neighbours: Neighbours; pairs: SimilarPair[] } | undefined {
  const opened = openRowsIndex(cacheDir, rows, indexOptions);
  if (!opened) return undefined;
  const { Xn, dim } = rows;
  const n = rows.hashes.length;
  const k = options.k;
  const threshold = options.pairThreshold ?? Infinity;
  const allowed = options.allowed;
  const want = Math.min(opened.hashes.length, Math.max(CANDIDATES, 2 * k + 16));
  const indices = new Int32Array(n * k).fill(-1);
  const scores = new Float32Array(n * k).fill(-Infinity);
  const pairKeys = new Set<number>();
  const pairs: SimilarPair[] = [];
  let exactRows = 0;
  const BATCH = 1024;
  for (let b0 = 0; b0 < n; b0 += BATCH) {
    const b1 = Math.min(n, b0 + BATCH);
    // A flat matrix of several rows is a batch search; a batch of one comes back as plain Matches (no counts).
    const found = opened.index.search(Xn.subarray(b0 * dim, b1 * dim), want, 1) as {
      keys: BigUint64Array;
      counts?: BigUint64Array;
    };
    for (let i = b0; i < b1; i++) {
      const t0 = (i - b0) * want;
      const count = found.counts ? Number(found.counts[i - b0]) : found.keys.length;
      const cand: { row: number; score: number }[] = [];
      for (let t = 0; t < count; t++) {
        const h = opened.hashes[Number(found.keys[t0 + t])];
        for (const j of (h !== undefined ? opened.rowsOf.get(h) : undefined) ?? []) {
          if (j === i) continue;
          const s = dot(Xn, i * dim, Xn, j * dim, dim);
          if (s >= threshold) {
            const a = Math.min(i, j);
            const b = Math.max(i, j);
            // n ≤ 2²⁶ rows keeps a·n + b exact in a double.
            if (!pairKeys.has(a * n + b)) {
              pairKeys.add(a * n + b);
              pairs.push({ a, b, score: s });
            }
          }
          if (!allowed || allowed(i, j)) cand.push({ row: j, score: s });
        }
      }
      if (cand.length < k && cand.length < n - 1) {
        // Too few allowed neighbours among the candidates: scan this row exactly.
        exactRows++;
        cand.length = 0;
        for (let j = 0; j < n; j++)
          if (j !== i && (!allowed || allowed(i, j))) cand.push({ row: j, score: dot(Xn, i * dim, Xn, j * dim, dim) });
      }
      cand.sort((x, y) => y.score - x.score || x.row - y.row);
      for (let t = 0; t < Math.min(k, cand.length); t++) {
        indices[i * k + t] = cand[t]!.row;
        scores[i * k + t] = cand[t]!.score;
      }
    }
  }
  if (exactRows > 0)
    indexOptions.log?.(`${exactRows} rows had too few same-class candidates in the index and were searched exactly.`);
  pairs.sort((x, y) => y.score - x.score || x.a - y.a || x.b - y.b);
  return { neighbours: { k, indices, scores }, pairs };
}
