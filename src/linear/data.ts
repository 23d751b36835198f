/**
 * Door checks for the linear stage: embeddings hold finite numbers, labels are an Int32Array of class ids.
 * The messages name the first bad row so a user can find it in their cache.
 */
import type { Embeddings } from '../util/embeddings';
import { UsageError } from '../util/errors';
import { invalid } from '../util/validate';

/**
 * Rows of checked Embeddings (see util/embeddings' checkEmbeddings): at least one, every number finite. Returns the
 * row count.
 */
export function checkFeatures(name: string, X: Embeddings): number {
  const { data, dim } = X;
  if (data.length === 0) throw new UsageError(`Expected ${name} to hold at least one embedding but it is empty.`);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v - v !== 0) {
      const row = Math.floor(i / dim);
      throw new UsageError(
        `Expected ${name} to contain only finite numbers but received ${v} at row ${row} (column ${i % dim}); re-extract that embedding.`,
      );
    }
  }
  return X.rows;
}

export function checkLabels(name: string, y: unknown, n: number, classes: number): Int32Array {
  if (!(y instanceof Int32Array)) throw invalid(name, 'an Int32Array of class ids', y);
  if (y.length !== n) throw invalid(`${name}.length`, `${n} (one label per embedding)`, y.length);
  for (let i = 0; i < n; i++) {
    if (y[i] < 0 || y[i] >= classes) throw invalid(`${name}[${i}]`, `a class id between 0 and ${classes - 1}`, y[i]);
  }
  return y;
}

export function classCounts(y: Int32Array, classes: number, rows?: Int32Array): Int32Array {
  const counts = new Int32Array(classes);
  if (rows) for (let r = 0; r < rows.length; r++) counts[y[rows[r]]]++;
  else for (let i = 0; i < y.length; i++) counts[y[i]]++;
  return counts;
}

export function allRows(n: number): Int32Array {
  const rows = new Int32Array(n);
  for (let i = 0; i < n; i++) rows[i] = i;
  return rows;
}

/** scikit-learn's "balanced": n / (K · n_k) over the classes present; absent classes keep weight 1. */
export function classWeights(kind: 'none' | 'balanced', y: Int32Array, classes: number): Float64Array {
  const w = new Float64Array(classes).fill(1);
  if (kind === 'none') return w;
  const counts = classCounts(y, classes);
  const present = counts.filter((c) => c > 0).length;
  for (let k = 0; k < classes; k++) if (counts[k] > 0) w[k] = y.length / (present * counts[k]);
  return w;
}

/** Fraction of rows whose predicted class is the true one (0 for no rows). */
export function accuracy(yTrue: Int32Array, yPred: Int32Array): number {
  if (yTrue.length !== yPred.length) throw invalid('yPred.length', `${yTrue.length}`, yPred.length);
  let c = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) c++;
  return yTrue.length ? c / yTrue.length : 0;
}
