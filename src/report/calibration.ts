/**
 * How far predicted probabilities are from observed frequencies: the expected calibration error (ECE) and the
 * reliability diagram's bins, as in Guo et al., "On Calibration of Modern Neural Networks" (ICML 2017): the top-1
 * confidence of every image falls into one of 15 equal-width bins over [0, 1]; ECE = Σ_b (n_b / N) · |acc_b − conf_b|.
 * 15 bins is Guo et al.'s choice and what most published ECE figures use, so numbers stay comparable.
 */
import { invalid } from '../util/validate';

export const ECE_BINS = 15;

export interface ReliabilityBin {
  /** The bin's confidence interval [lo, hi) (the last one includes 1). */
  lo: number;
  hi: number;
  count: number;
  /** Mean top-1 confidence and accuracy of the images in the bin (null when the bin is empty). */
  confidence: number | null;
  accuracy: number | null;
}

export interface CalibrationSummary {
  /** Expected calibration error over `bins` equal-width bins of top-1 confidence. */
  ece: number;
  /** Maximum calibration error: the largest |acc − conf| over non-empty bins. */
  mce: number;
  /** Mean top-1 confidence and accuracy over all images. */
  meanConfidence: number;
  accuracy: number;
  bins: number;
  table: ReliabilityBin[];
}

/**
 * @param probabilities N × K row-major probabilities.
 * @param yTrue N true class ids.
 */
export function calibrationSummary(
  probabilities: Float32Array,
  yTrue: Int32Array,
  K: number,
  bins = ECE_BINS,
): CalibrationSummary {
  const n = yTrue.length;
  if (!(probabilities instanceof Float32Array) || probabilities.length !== n * K)
    throw invalid('probabilities', `a Float32Array of ${n} × ${K} values`, probabilities);
  if (!Number.isInteger(bins) || bins < 1) throw invalid('bins', 'a positive integer', bins);
  const count = new Float64Array(bins);
  const confSum = new Float64Array(bins);
  const hitSum = new Float64Array(bins);
  let confTotal = 0;
  let hits = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (probabilities[i * K + k] > probabilities[i * K + best]) best = k;
    const p = probabilities[i * K + best];
    const b = Math.min(bins - 1, Math.floor(p * bins));
    const hit = best === yTrue[i] ? 1 : 0;
    count[b]++;
    confSum[b] += p;
    hitSum[b] += hit;
    confTotal += p;
    hits += hit;
  }
  let ece = 0;
  let mce = 0;
  const table: ReliabilityBin[] = [];
  for (let b = 0; b < bins; b++) {
    const c = count[b];
    const confidence = c ? confSum[b] / c : null;
    const accuracy = c ? hitSum[b] / c : null;
    if (c) {
      const gap = Math.abs(accuracy! - confidence!);
      ece += (c / n) * gap;
      mce = Math.max(mce, gap);
    }
    table.push({ lo: b / bins, hi: (b + 1) / bins, count: c, confidence, accuracy });
  }
  return {
    ece,
    mce,
    meanConfidence: n ? confTotal / n : 0,
    accuracy: n ? hits / n : 0,
    bins,
    table,
  };
}

/** What --json prints: the figures, rounded to what the data can show, and the non-empty bins. */
export function calibrationToJson(c: CalibrationSummary): Record<string, unknown> {
  const r = (v: number | null): number | null => (v === null ? null : Number(v.toFixed(6)));
  return {
    ece: r(c.ece),
    mce: r(c.mce),
    bins: c.bins,
    binning: 'equal-width bins of top-1 confidence over [0, 1]',
    meanConfidence: r(c.meanConfidence),
    accuracy: r(c.accuracy),
    table: c.table
      .filter((b) => b.count > 0)
      .map((b) => ({ lo: r(b.lo), hi: r(b.hi), count: b.count, confidence: r(b.confidence), accuracy: r(b.accuracy) })),
  };
}
