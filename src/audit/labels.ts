/**
 * Likely label errors by confident learning (Northcutt, Jiang & Chuang, "Confident Learning: Estimating Uncertainty
 * in Dataset Labels", JAIR 2021) on out-of-fold predicted probabilities: per-class thresholds t_j = the average
 * self-confidence of the rows labelled j; the confident joint C[ỹ][y*] counts each row under its given label ỹ and
 * the most probable class among those whose probability reaches their threshold; rows off the joint's diagonal are
 * label issues, ranked by self-confidence p(ỹ | x) (lowest first, the paper's and cleanlab's default ranking).
 */
import { LinearClassifier } from '../linear';
import { toEmbeddings } from '../util/embeddings';
import { stratifiedFolds } from '../linear/search';

export interface LabelIssue {
  row: number;
  given: number;
  /** The class the confident joint puts the row under. */
  suggested: number;
  /** Out-of-fold probability of the given label. */
  selfConfidence: number;
  /** Out-of-fold probability of the suggested label. */
  suggestedConfidence: number;
}

export interface ConfidentLearningResult {
  /** t_j per class; NaN for a class with no labelled row. */
  thresholds: Float64Array;
  /** K×K counts, given label down, confident true label across. */
  confidentJoint: Int32Array;
  /** Off-diagonal rows, lowest self-confidence first. */
  issues: LabelIssue[];
}

/** probs: n×K out-of-fold probabilities; labels: given class per row, −1 for rows without a label (ignored). */
export function confidentLearning(probs: Float32Array, labels: Int32Array, K: number): ConfidentLearningResult {
  const n = labels.length;
  const sums = new Float64Array(K);
  const counts = new Int32Array(K);
  for (let i = 0; i < n; i++) {
    const y = labels[i]!;
    if (y < 0) continue;
    sums[y]! += probs[i * K + y]!;
    counts[y]! += 1;
  }
  const thresholds = new Float64Array(K);
  for (let k = 0; k < K; k++) thresholds[k] = counts[k]! > 0 ? sums[k]! / counts[k]! : NaN;
  const joint = new Int32Array(K * K);
  const issues: LabelIssue[] = [];
  for (let i = 0; i < n; i++) {
    const y = labels[i]!;
    if (y < 0) continue;
    let best = -1;
    for (let k = 0; k < K; k++) {
      const p = probs[i * K + k]!;
      // A class without labelled rows has no threshold and cannot be suggested.
      if (!(p >= thresholds[k]!)) continue;
      if (best < 0 || p > probs[i * K + best]!) best = k;
    }
    if (best < 0) continue;
    joint[y * K + best]! += 1;
    if (best !== y)
      issues.push({
        row: i,
        given: y,
        suggested: best,
        selfConfidence: probs[i * K + y]!,
        suggestedConfidence: probs[i * K + best]!,
      });
  }
  issues.sort((a, b) => a.selfConfidence - b.selfConfidence || a.row - b.row);
  return { thresholds, confidentJoint: joint, issues };
}

export interface OutOfFoldOptions {
  folds: number;
  C: number;
  seed: number;
}

/**
 * Out-of-fold probabilities from the project's linear SVM: each labelled row is scored by a model that never saw it.
 * The held-out fold also calibrates that model's temperature (one number; C is fixed), so probabilities are
 * comparable across folds. Rows labelled −1 stay NaN.
 */
export async function outOfFoldProbabilities(
  X: Float32Array,
  dim: number,
  labels: Int32Array,
  K: number,
  options: OutOfFoldOptions,
): Promise<Float32Array> {
  const labelledRows: number[] = [];
  for (let i = 0; i < labels.length; i++) if (labels[i]! >= 0) labelledRows.push(i);
  const y = Int32Array.from(labelledRows, (r) => labels[r]!);
  const fold = stratifiedFolds(y, K, options.folds, options.seed);
  const out = new Float32Array(labels.length * K).fill(NaN);
  const gather = (rows: number[]): Float32Array => {
    const M = new Float32Array(rows.length * dim);
    rows.forEach((r, i) => M.set(X.subarray(r * dim, (r + 1) * dim), i * dim));
    return M;
  };
  for (let f = 0; f < options.folds; f++) {
    const trainIdx: number[] = [];
    const testIdx: number[] = [];
    for (let i = 0; i < y.length; i++) (fold[i] === f ? testIdx : trainIdx).push(i);
    if (testIdx.length === 0) continue;
    const clf = new LinearClassifier({ solver: 'svm', C: options.C, scale: 'none', seed: options.seed });
    const Xtest = toEmbeddings(gather(testIdx.map((i) => labelledRows[i]!)), dim);
    const ytest = Int32Array.from(testIdx, (i) => y[i]!);
    await clf.fit(
      toEmbeddings(gather(trainIdx.map((i) => labelledRows[i]!)), dim),
      Int32Array.from(trainIdx, (i) => y[i]!),
      {
        classes: Array.from({ length: K }, (_, k) => String(k)),
        val: { X: Xtest, y: ytest },
      },
    );
    const p = clf.predictProba(Xtest);
    testIdx.forEach((i, t) => out.set(p.subarray(t * K, (t + 1) * K), labelledRows[i]! * K));
  }
  return out;
}
