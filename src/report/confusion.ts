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

/** The matrix as an aligned text table with class names on both axes (true down, predicted across). */
export function formatConfusionMatrix(matrix: Int32Array, classes: string[]): string {
  const K = classes.length;
  const first = Math.max('true \\ pred'.length, ...classes.map((c) => c.length));
  const width = Math.max(4, ...classes.map((c) => c.length), ...Array.from(matrix, (v) => String(v).length));
  const head = `${'true \\ pred'.padEnd(first)}  ${classes.map((c) => c.padStart(width)).join(' ')}`;
  const rows = classes.map(
    (c, t) =>
      `${c.padEnd(first)}  ${Array.from(matrix.subarray(t * K, (t + 1) * K), (v) => String(v).padStart(width)).join(' ')}`,
  );
  return [head, ...rows].join('\n');
}
