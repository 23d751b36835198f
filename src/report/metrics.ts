/**
 * Classification metrics as scikit-learn defines them: accuracy, top-k accuracy (ties broken toward the lower
 * class id, so a sample counts only if its class is strictly among the k best), per-class precision, recall, F1 and
 * support, their macro (unweighted) and weighted (by support) averages. 0/0 counts as 0 (sklearn's zero_division=0).
 */
import { integerInRange, invalid } from '../util/validate';
import { confusionMatrix, formatConfusionMatrix } from './confusion';
import { accuracy } from '../linear/data';

export { accuracy };

export { confusionMatrix, formatConfusionMatrix };

export interface ClassMetrics {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface AverageMetrics {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface ClassificationMetrics {
  accuracy: number;
  /** k → top-k accuracy, present when scores were given. */
  topK: Record<string, number>;
  perClass: ClassMetrics[];
  macro: AverageMetrics;
  weighted: AverageMetrics;
  /** K × K, rows = true class. */
  confusion: Int32Array;
  classes: string[];
  n: number;
}

/** Fraction of rows whose true class is among the k highest scores (scores: N × K). */
export function topKAccuracy(yTrue: Int32Array, scores: Float32Array, classes: number, k: number): number {
  integerInRange('k', k, 1, classes);
  if (scores.length !== yTrue.length * classes)
    throw invalid('scores.length', `${yTrue.length} × ${classes}`, scores.length);
  let hits = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const o = i * classes;
    const t = yTrue[i];
    const st = scores[o + t];
    let above = 0;
    for (let c = 0; c < classes; c++) {
      const s = scores[o + c];
      if (s > st || (s === st && c < t)) above++;
    }
    if (above < k) hits++;
  }
  return yTrue.length ? hits / yTrue.length : 0;
}

export function classificationMetrics(
  yTrue: Int32Array,
  yPred: Int32Array,
  classes: readonly string[],
  options: { scores?: Float32Array; topK?: number[] } = {},
): ClassificationMetrics {
  const K = classes.length;
  const confusion = confusionMatrix(yTrue, yPred, K);
  // Row and column sums in one row-major pass: column-wise access over a 10,000 × 10,000 matrix is 10× slower.
  const supportOf = new Float64Array(K);
  const predictedOf = new Float64Array(K);
  for (let t = 0; t < K; t++) {
    const row = t * K;
    for (let p = 0; p < K; p++) {
      const c = confusion[row + p]!;
      if (c === 0) continue;
      supportOf[t] += c;
      predictedOf[p] += c;
    }
  }
  const perClass: ClassMetrics[] = classes.map((label, k) => {
    const tp = confusion[k * K + k]!;
    const predicted = predictedOf[k]!;
    const support = supportOf[k]!;
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { label, precision, recall, f1, support };
  });
  const n = yTrue.length;
  const avg = (weightOf: (c: ClassMetrics, k: number) => number): AverageMetrics => {
    const total = perClass.reduce((s, c, k) => s + weightOf(c, k), 0);
    const mean = (f: (c: ClassMetrics) => number): number =>
      total ? perClass.reduce((s, c, k) => s + weightOf(c, k) * f(c), 0) / total : 0;
    return { precision: mean((c) => c.precision), recall: mean((c) => c.recall), f1: mean((c) => c.f1), support: n };
  };
  const topK: Record<string, number> = {};
  if (options.scores) {
    for (const k of options.topK ?? [1, Math.min(5, K)])
      topK[String(k)] = topKAccuracy(yTrue, options.scores, K, Math.min(k, K));
  }
  return {
    accuracy: accuracy(yTrue, yPred),
    topK,
    perClass,
    // Like scikit-learn: the macro average runs over the classes present in the true or predicted labels, so a class
    // the classifier knows but this split lacks does not pull it down with a 0/0 row.
    macro: avg((c, k) => (c.support > 0 || predictedOf[k]! > 0 ? 1 : 0)),
    weighted: avg((c) => c.support),
    confusion,
    classes: [...classes],
    n,
  };
}

/**
 * Plain-JSON form for `--json` output and report.json: the confusion matrix as nested rows, or above
 * MAX_DENSE_JSON_CLASSES classes as `confusionCells`, the non-zero [true, predicted, count] triples.
 */
export function metricsToJson(m: ClassificationMetrics): Record<string, unknown> {
  const K = m.classes.length;
  if (K > MAX_DENSE_JSON_CLASSES) {
    // 10,000 classes would be 10^8 numbers: the non-zero cells as [true, predicted, count] instead.
    const { confusion: _dense, ...rest } = m;
    void _dense;
    const cells: Array<[number, number, number]> = [];
    for (let t = 0; t < K; t++)
      for (let p = 0; p < K; p++) {
        const c = m.confusion[t * K + p]!;
        if (c > 0) cells.push([t, p, c]);
      }
    return { ...rest, confusionCells: cells };
  }
  return {
    ...m,
    confusion: m.classes.map((_, t) => Array.from(m.confusion.subarray(t * K, (t + 1) * K))),
  };
}

/** Up to this many classes `--json` and report.json carry the dense matrix (ImageNet's 1,000: 10^6 numbers). */
export const MAX_DENSE_JSON_CLASSES = 1000;

const pct = (v: number): string => (100 * v).toFixed(2).padStart(6);

/** scikit-learn's classification_report as plain text, then accuracy, top-k and the confusion matrix. */
export function formatMetricsTable(m: ClassificationMetrics): string {
  const w = m.classes.reduce((most, c) => Math.max(most, c.length), 12); // no spread: 10,000 classes
  const line = (name: string, p: number, r: number, f: number, s: number): string =>
    `${name.padEnd(w)}  ${pct(p)}  ${pct(r)}  ${pct(f)}  ${String(s).padStart(7)}`;
  const out = [
    `${''.padEnd(w)}  ${'prec %'.padStart(6)}  ${'rec %'.padStart(6)}  ${'F1 %'.padStart(6)}  ${'support'.padStart(7)}`,
  ];
  for (const c of m.perClass) out.push(line(c.label, c.precision, c.recall, c.f1, c.support));
  out.push('');
  out.push(line('macro avg', m.macro.precision, m.macro.recall, m.macro.f1, m.n));
  out.push(line('weighted avg', m.weighted.precision, m.weighted.recall, m.weighted.f1, m.n));
  out.push('');
  out.push(`accuracy ${(100 * m.accuracy).toFixed(2)} % (${Math.round(m.accuracy * m.n)}/${m.n})`);
  for (const [k, v] of Object.entries(m.topK)) out.push(`top-${k} accuracy ${(100 * v).toFixed(2)} %`);
  out.push('');
  out.push(formatConfusionMatrix(m.confusion, m.classes));
  return out.join('\n');
}
