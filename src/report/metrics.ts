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
  classes: string[],
  options: { scores?: Float32Array; topK?: number[] } = {},
): ClassificationMetrics {
  const K = classes.length;
  const confusion = confusionMatrix(yTrue, yPred, K);
  const perClass: ClassMetrics[] = classes.map((label, k) => {
    let tp = 0;
    let predicted = 0;
    let support = 0;
    for (let j = 0; j < K; j++) {
      predicted += confusion[j * K + k];
      support += confusion[k * K + j];
    }
    tp = confusion[k * K + k];
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { label, precision, recall, f1, support };
  });
  const n = yTrue.length;
  const predictedOf = (label: string): number => {
    const k = classes.indexOf(label);
    let p = 0;
    for (let j = 0; j < K; j++) p += confusion[j * K + k];
    return p;
  };
  const avg = (weightOf: (c: ClassMetrics) => number): AverageMetrics => {
    const total = perClass.reduce((s, c) => s + weightOf(c), 0);
    const mean = (f: (c: ClassMetrics) => number): number =>
      total ? perClass.reduce((s, c) => s + weightOf(c) * f(c), 0) / total : 0;
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
    macro: avg((c) => (c.support > 0 || predictedOf(c.label) > 0 ? 1 : 0)),
    weighted: avg((c) => c.support),
    confusion,
    classes: [...classes],
    n,
  };
}

/** Plain-JSON form (the confusion matrix as nested rows) for `--json` output and the classifier's metrics slot. */
export function metricsToJson(m: ClassificationMetrics): Record<string, unknown> {
  const K = m.classes.length;
  return {
    ...m,
    confusion: m.classes.map((_, t) => Array.from(m.confusion.subarray(t * K, (t + 1) * K))),
  };
}

const pct = (v: number): string => (100 * v).toFixed(2).padStart(6);

/** scikit-learn's classification_report as plain text, then accuracy, top-k and the confusion matrix. */
export function formatMetricsTable(m: ClassificationMetrics): string {
  const w = Math.max(12, ...m.classes.map((c) => c.length));
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
