/** Confusion matrix: Int32Array K×K, rows = true class, columns = predicted class. */
import { invalid } from '../util/validate';

export function confusionMatrix(yTrue: Int32Array, yPred: Int32Array, classes: number): Int32Array {
  if (!(yTrue instanceof Int32Array)) throw invalid('yTrue', 'an Int32Array of class ids', yTrue);
  if (!(yPred instanceof Int32Array) || yPred.length !== yTrue.length) {
    throw invalid('yPred', `an Int32Array of ${yTrue.length} class ids`, yPred);
  }
  const m = new Int32Array(classes * classes);
  for (let i = 0; i < yTrue.length; i++) {
    const t = yTrue[i];
    const p = yPred[i];
    if (t < 0 || t >= classes) throw invalid(`yTrue[${i}]`, `a class id between 0 and ${classes - 1}`, t);
    if (p < 0 || p >= classes) throw invalid(`yPred[${i}]`, `a class id between 0 and ${classes - 1}`, p);
    m[t * classes + p]++;
  }
  return m;
}

/** Above this many classes the text output lists the largest confusions instead of a K × K table. */
export const MAX_TABLE_CLASSES = 20;
/** Above this many classes the heatmap shows the most-confused classes only (a 10,000² picture says nothing). */
export const MAX_HEATMAP_CLASSES = 40;

export interface ConfusionCell {
  trueClass: number;
  predicted: number;
  count: number;
}

/** Off-diagonal cells with a count, largest first (ties: lower true class, then lower predicted class). */
export function topConfusions(matrix: Int32Array, K: number, limit: number): ConfusionCell[] {
  const cells: ConfusionCell[] = [];
  for (let t = 0; t < K; t++) {
    const row = t * K;
    for (let p = 0; p < K; p++) {
      const count = matrix[row + p]!;
      if (count > 0 && p !== t) cells.push({ trueClass: t, predicted: p, count });
    }
  }
  cells.sort((a, b) => b.count - a.count || a.trueClass - b.trueClass || a.predicted - b.predicted);
  return cells.slice(0, limit);
}

/** Row sums (images per true class) in one pass. */
export function rowTotals(matrix: Int32Array, K: number): Float64Array {
  const out = new Float64Array(K);
  for (let t = 0; t < K; t++) {
    let s = 0;
    for (let p = 0; p < K; p++) s += matrix[t * K + p]!;
    out[t] = s;
  }
  return out;
}

/**
 * The part of the matrix worth a picture: all of it up to `maxClasses` classes, else the `maxClasses` classes most
 * involved in errors (as true or predicted class), in their original order, with a note saying so.
 */
export function confusionView(
  matrix: Int32Array,
  classes: string[],
  maxClasses = MAX_HEATMAP_CLASSES,
): { matrix: Int32Array; classes: string[]; note: string | null } {
  const K = classes.length;
  if (K <= maxClasses) return { matrix, classes, note: null };
  const errors = new Float64Array(K);
  for (let t = 0; t < K; t++)
    for (let p = 0; p < K; p++) {
      if (p === t) continue;
      const c = matrix[t * K + p]!;
      errors[t] += c;
      errors[p] += c;
    }
  const chosen = Array.from({ length: K }, (_, k) => k)
    .sort((a, b) => errors[b]! - errors[a]! || a - b)
    .slice(0, maxClasses)
    .sort((a, b) => a - b);
  const k = chosen.length;
  const sub = new Int32Array(k * k);
  chosen.forEach((t, i) => chosen.forEach((p, j) => (sub[i * k + j] = matrix[t * K + p]!)));
  return {
    matrix: sub,
    classes: chosen.map((c) => classes[c]!),
    note: `the ${k} classes with the most errors of ${K}`,
  };
}

/**
 * The matrix as an aligned text table with class names on both axes (true down, predicted across); above
 * MAX_TABLE_CLASSES classes, the largest confusions as a list instead (no terminal is 10,000 columns wide).
 */
export function formatConfusionMatrix(matrix: Int32Array, classes: string[], topN = 30): string {
  const K = classes.length;
  if (K > MAX_TABLE_CLASSES) return formatTopConfusions(matrix, classes, topN);
  let first = 'true \\ pred'.length;
  let width = 4;
  for (const c of classes) {
    first = Math.max(first, c.length);
    width = Math.max(width, c.length);
  }
  for (let i = 0; i < matrix.length; i++) width = Math.max(width, String(matrix[i]).length);
  const head = `${'true \\ pred'.padEnd(first)}  ${classes.map((c) => c.padStart(width)).join(' ')}`;
  const rows = classes.map(
    (c, t) =>
      `${c.padEnd(first)}  ${Array.from(matrix.subarray(t * K, (t + 1) * K), (v) => String(v).padStart(width)).join(' ')}`,
  );
  return [head, ...rows].join('\n');
}

/** "true → predicted: count (share of the true class)" for the largest confusions. */
export function formatTopConfusions(matrix: Int32Array, classes: string[], topN = 30): string {
  const K = classes.length;
  const cells = topConfusions(matrix, K, topN);
  const totals = rowTotals(matrix, K);
  if (cells.length === 0) return `confusions: none (${K} classes, every image on the diagonal)`;
  const lines = [`top ${cells.length} confusions of ${K} classes (true → predicted: images, share of the true class)`];
  for (const { trueClass: t, predicted: p, count } of cells) {
    const share = totals[t] ? (100 * count) / totals[t]! : 0;
    lines.push(`  ${classes[t]} → ${classes[p]}: ${count} (${share.toFixed(1)} %)`);
  }
  return lines.join('\n');
}
