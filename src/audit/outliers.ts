/**
 * Outliers: images whose k nearest neighbours (within their own class when labels exist, else among all images)
 * are unusually dissimilar. The score is the mean cosine similarity to those neighbours; a row is flagged when it
 * lies more than `zCutoff` robust standard deviations below its class's median score. The median is per class (a
 * class of varied photos is not flagged wholesale); the spread, 1.4826 · the median absolute deviation from the
 * class medians, is pooled over all rows, because a class of a dozen photos gives too noisy a spread of its own.
 */
import type { Neighbours } from './search';

/**
 * Robust z below which a row is an outlier. Measured on Mini Natural Images with 10 planted junk images (solid
 * colours, noise; bench/README.md "Audit"): the junk scores z −9.0 to −12.6 on the full set and −5.8 to −8.0 on the
 * 136-photo test subset, where no real photo in its own class goes below −3.3.
 */
export const DEFAULT_OUTLIER_Z = 5;

export interface Outlier {
  row: number;
  /** Mean similarity to its k nearest neighbours. */
  score: number;
  /** Robust z of that score within its group (negative = less similar than usual). */
  z: number;
  /** The group's median score, for the report. */
  groupMedian: number;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Mean of each row's available neighbour scores (NaN when it has none). */
export function neighbourScores(nb: Neighbours): Float64Array {
  const n = nb.indices.length / nb.k;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    let c = 0;
    for (let t = 0; t < nb.k; t++) {
      if (nb.indices[i * nb.k + t]! < 0) break;
      s += nb.scores[i * nb.k + t]!;
      c++;
    }
    out[i] = c ? s / c : NaN;
  }
  return out;
}

/** groups: a group id per row (class id, or 0 for every row when unlabelled). Lowest z first. */
export function findOutliers(scores: Float64Array, groups: Int32Array, zCutoff = DEFAULT_OUTLIER_Z): Outlier[] {
  const members = new Map<number, number[]>();
  for (let i = 0; i < scores.length; i++) {
    if (Number.isNaN(scores[i]!)) continue;
    const g = groups[i]!;
    const list = members.get(g);
    if (list) list.push(i);
    else members.set(g, [i]);
  }
  const out: Outlier[] = [];
  const medians = new Map<number, number>();
  const deviations: number[] = [];
  for (const [g, rows] of members) {
    if (rows.length < 3) continue; // too few to say what is usual
    const med = median(rows.map((r) => scores[r]!));
    medians.set(g, med);
    for (const r of rows) deviations.push(Math.abs(scores[r]! - med));
  }
  if (deviations.length === 0) return out;
  const sigma = Math.max(1.4826 * median(deviations), 1e-6);
  for (const [g, rows] of members) {
    const med = medians.get(g);
    if (med === undefined) continue;
    for (const r of rows) {
      const z = (scores[r]! - med) / sigma;
      if (z < -zCutoff) out.push({ row: r, score: scores[r]!, z, groupMedian: med });
    }
  }
  out.sort((a, b) => a.z - b.z || a.row - b.row);
  return out;
}
