/**
 * Duplicates and leakage: rows with the same content hash (byte-identical files, known to the cache without any
 * arithmetic) and rows whose embeddings are nearly parallel (the same photo re-encoded, resized or slightly
 * cropped). Pairs whose two images sit in different splits are leakage and are listed first.
 */
import type { SimilarPair } from './search';

/**
 * Default candidate threshold on cosine similarity of the embeddings. Measured with ResNet50 avg_pool on Mini Natural
 * Images (bench/audit/quality.ts, bench/README.md "Audit"): planted re-encoded / 75 %-resized / 6 %-cropped copies
 * score 0.89–0.9998 against their originals (a cropped cat: 0.890), but so do different photos of one object (10 %
 * of the photos have another photo of their class above 0.943: frames of a rotating fruit, portraits of one person).
 * So cosine only proposes candidates, with margin below the lowest copy seen, and the pixel check (verify.ts) decides.
 */
export const DEFAULT_NEAR_DUPLICATE_THRESHOLD = 0.85;

export interface DuplicatePair {
  a: number;
  b: number;
  score: number;
  kind: 'exact' | 'near';
  /** True when the two rows are in different splits (train↔val, train↔test, val↔test). */
  crossSplit: boolean;
  /** Thumbnail correlation from the pixel check; null when it was not run or a file could not be read. */
  pixel: number | null;
}

const SPLIT_ORDER: Record<string, number> = { train: 0, val: 1, test: 2 };

/**
 * Joins exact (same hash) and near (similarity pairs from the search) duplicates into one list: cross-split pairs
 * first, then by similarity; within a pair, a is the row of the earlier split (the one to keep).
 */
export function findDuplicates(
  hashes: readonly string[],
  splits: ReadonlyArray<string | undefined>,
  similarPairs: ReadonlyArray<SimilarPair & { pixel?: number | null }>,
): DuplicatePair[] {
  const out: DuplicatePair[] = [];
  const seen = new Set<string>();
  const add = (i: number, j: number, score: number, kind: 'exact' | 'near', pixel: number | null = null): void => {
    const [a, b] = (SPLIT_ORDER[splits[i] ?? ''] ?? 3) <= (SPLIT_ORDER[splits[j] ?? ''] ?? 3) ? [i, j] : [j, i];
    const key = `${Math.min(a, b)}:${Math.max(a, b)}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ a, b, score, kind, crossSplit: splits[a] !== splits[b], pixel });
  };
  const byHash = new Map<string, number[]>();
  hashes.forEach((h, i) => {
    const rows = byHash.get(h);
    if (rows) rows.push(i);
    else byHash.set(h, [i]);
  });
  for (const rows of byHash.values()) for (let x = 1; x < rows.length; x++) add(rows[0]!, rows[x]!, 1, 'exact');
  for (const p of similarPairs) if (hashes[p.a] !== hashes[p.b]) add(p.a, p.b, p.score, 'near', p.pixel ?? null);
  out.sort(
    (p, q) =>
      Number(q.crossSplit) - Number(p.crossSplit) ||
      Number(q.kind === 'exact') - Number(p.kind === 'exact') ||
      q.score - p.score ||
      p.a - q.a ||
      p.b - q.b,
  );
  return out;
}

/** The rows of `split` that have a duplicate in another split: what a cleaned split leaves out. */
export function leakedRows(
  pairs: readonly DuplicatePair[],
  splits: ReadonlyArray<string | undefined>,
  split: string,
): Set<number> {
  const rows = new Set<number>();
  for (const p of pairs) {
    if (!p.crossSplit) continue;
    if (splits[p.a] === split) rows.add(p.a);
    if (splits[p.b] === split) rows.add(p.b);
  }
  return rows;
}
