/**
 * Selection of C: a grid per solver, scored by accuracy on the val split when there is one, else by stratified
 * k-fold cross-validation on train (folds dealt per class after a seeded shuffle). Ties on accuracy (common on small
 * or easy data, where every C scores 100 %) are broken by the validation log-loss: the mean cross-entropy of the
 * probabilities the classifier will output (softmax of the scores at the temperature fitted on the same rows, as
 * fit() calibrates; softmax without val keeps T = 1). So the tie goes to the C whose probabilities are the most
 * honest, not to the flattest model; equal log-losses keep the smaller C. The grid is scaled by 1 / mean(‖x̃‖²) of
 * the scaled training rows (x̃ = [x; 1]), so that one grid
 * fits l2, standard and unscaled features alike: C · ‖x̃‖² is what sets the balance of loss and margin.
 */
import { fitTemperature, meanLogLoss } from './calibration';
import { Prng } from '../util/prng';
import type { DeepReadonly } from './fitted';
import type { TrainingCurvePoint } from './softmax';
import { createStepper, decisionValues, EngineData, EngineOptions, SolverKind } from './train';

export interface CScore {
  C: number;
  /** Mean accuracy on val (or over the CV folds). */
  score: number;
  /** Mean log-loss on val (or on the pooled out-of-fold rows): the tie-breaker. Absent in files from older versions. */
  logLoss?: number;
}

export interface CSearchResult {
  C: number;
  method: 'val' | 'cv';
  folds?: number;
  table: CScore[];
  /** Why the chosen C won, in one sentence (absent in files from older versions). */
  reason?: string;
}

/** Accuracies closer than this count as a tie (one image in 10^9). */
const TIE = 1e-9;

/**
 * Grid exponents (base 2) before scaling, chosen from measurements on ResNet embeddings and synthetic blobs. The svm
 * grid steps by 4×: on Mini Natural Images' ResNet50 embeddings it picks the same C and val accuracy as the 2× grid
 * in 0.93 s instead of 1.4 s (bench/README.md); squared-hinge accuracy is flat within a factor of 2 of the best C.
 */
export const C_GRID_EXPONENTS: Record<SolverKind, number[]> = {
  svm: [-6, -4, -2, 0, 2],
  softmax: [-2, 0, 2, 4, 6, 8, 10],
  'ml-svm': [-4, -2, 0, 2, 4],
};

export function defaultCGrid(solver: SolverKind, X: Float32Array, dim: number, rows?: Int32Array): number[] {
  const n = rows ? rows.length : X.length / dim;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const off = (rows ? rows[i] : i) * dim;
    let s = 1;
    for (let j = 0; j < dim; j++) s += X[off + j] * X[off + j];
    sq += s;
  }
  const meanSq = sq / Math.max(1, n);
  // Round to 6 significant digits so the table prints cleanly (powers of two down to 2^-6 stay exact).
  return C_GRID_EXPONENTS[solver].map((e) => Number((2 ** e / (meanSq / 2)).toPrecision(6)));
}

/** Fold id (0..folds−1) of every row, stratified: each class's rows are shuffled and dealt round-robin. */
export function stratifiedFolds(labels: Int32Array, classes: number, folds: number, seed: number): Int32Array {
  const rng = new Prng(seed);
  const fold = new Int32Array(labels.length);
  let offset = 0;
  for (let k = 0; k < classes; k++) {
    const idx: number[] = [];
    for (let i = 0; i < labels.length; i++) if (labels[i] === k) idx.push(i);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = rng.below(i + 1);
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    // Continue the round-robin across classes so small classes do not all land in fold 0.
    idx.forEach((row, r) => (fold[row] = (offset + r) % folds));
    offset = (offset + idx.length) % folds;
  }
  return fold;
}

/**
 * Log-loss of scores as the probabilities the classifier will output: at the temperature fitted on these rows, as
 * fit() calibrates (softmax without a val split keeps its own probabilities, T = 1).
 */
export function selectionLogLoss(
  solver: SolverKind,
  scores: Float32Array,
  K: number,
  labels: Int32Array,
  onVal: boolean,
): number {
  const T = solver === 'softmax' && !onVal ? 1 : fitTemperature(scores, K, labels);
  return meanLogLoss(scores, K, labels, T);
}

/** Whether row a of the table beats row b: higher accuracy, or the same accuracy and a lower log-loss. */
export function beats(a: CScore, b: CScore): boolean {
  if (a.score > b.score + TIE) return true;
  if (a.score < b.score - TIE) return false;
  return a.logLoss !== undefined && b.logLoss !== undefined && a.logLoss < b.logLoss - 1e-12;
}

/** One sentence on why table[best] won, for the table printed by fit-linear and shown in the report. */
export function choiceReason(table: CScore[], best: number, method: 'val' | 'cv'): string {
  const chosen = table[best];
  const on = method === 'val' ? 'val' : 'cross-validation';
  const pct = (v: number): string => `${(100 * v).toFixed(2)} %`;
  const tied = table.filter((r) => Math.abs(r.score - chosen.score) <= TIE);
  if (tied.length <= 1) return `C = ${chosen.C.toPrecision(3)} has the highest ${on} accuracy (${pct(chosen.score)}).`;
  return (
    `${tied.length} values of C tie at ${pct(chosen.score)} ${on} accuracy; C = ${chosen.C.toPrecision(3)} has the ` +
    `lowest ${on} log-loss among them (${chosen.logLoss?.toFixed(4) ?? '?'}).`
  );
}

function accuracy(scores: Float32Array, K: number, labels: Int32Array, rows?: Int32Array): number {
  const n = scores.length / K;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (scores[i * K + k] > scores[i * K + best]) best = k;
    if (best === labels[rows ? rows[i] : i]) correct++;
  }
  return n ? correct / n : 0;
}

export interface SearchOutput {
  search: CSearchResult;
  /** The model at the chosen C, trained on all training rows. */
  weights: Float64Array;
  /** softmax: the chosen model's training curve. */
  history: TrainingCurvePoint[] | null;
  hitMaxIter: boolean;
}

/** Larger C only costs more sweeps; after this many C values in a row without beating the best, stop. */
export const C_PATIENCE = 3;

/**
 * Walks the grid upward, warm-starting each C from the last. With a val split the path on all train rows is both
 * scored and kept; with CV the full-data path runs in the same batch as the folds (one pool, all cores busy).
 * The walk stops early once C_PATIENCE consecutive values fail to beat the best score (the table then ends there).
 */
export async function searchC(
  solver: SolverKind,
  data: EngineData,
  Cs: number[],
  opts: EngineOptions & { folds: number; patience?: number },
  val?: { X: Float32Array; labels: Int32Array },
): Promise<SearchOutput> {
  const n = data.labels.length;
  const all = new Int32Array(n);
  for (let i = 0; i < n; i++) all[i] = i;
  const K = data.classes;
  const trainSets: Int32Array[] = [];
  const testSets: Int32Array[] = [];
  if (!val) {
    const fold = stratifiedFolds(data.labels, K, opts.folds, opts.seed);
    for (let f = 0; f < opts.folds; f++) {
      const tr: number[] = [];
      const te: number[] = [];
      for (let i = 0; i < n; i++) (fold[i] === f ? te : tr).push(i);
      trainSets.push(Int32Array.from(tr));
      testSets.push(Int32Array.from(te));
    }
  }
  const full = trainSets.length; // index of the all-rows set
  const stepper = createStepper(solver, data, [...trainSets, all], opts, val);
  const table: CScore[] = [];
  let best = -1;
  let bestW: Float64Array = new Float64Array(0);
  let sinceBest = 0;
  try {
    for (const C of Cs) {
      const Ws = await stepper.step(C);
      let score: number;
      let logLoss: number;
      if (val) {
        const scores = decisionValues(val.X, data.dim, Ws[full], K);
        score = accuracy(scores, K, val.labels);
        logLoss = selectionLogLoss(solver, scores, K, val.labels, true);
      } else {
        score = 0;
        // Out-of-fold scores pooled over the folds: one temperature and one log-loss for the whole train split.
        const pooled = new Float32Array(n * K);
        const pooledLabels = new Int32Array(n);
        let at = 0;
        for (let f = 0; f < full; f++) {
          const scores = decisionValues(data.X, data.dim, Ws[f], K, testSets[f]);
          score += accuracy(scores, K, data.labels, testSets[f]);
          pooled.set(scores, at * K);
          testSets[f].forEach((row, i) => (pooledLabels[at + i] = data.labels[row]));
          at += testSets[f].length;
        }
        score /= full;
        logLoss = selectionLogLoss(solver, pooled.subarray(0, at * K), K, pooledLabels.subarray(0, at), false);
      }
      table.push({ C, score, logLoss: Number(logLoss.toPrecision(6)) });
      // The grid ascends, so a full tie (accuracy and log-loss) keeps the smaller C.
      if (best < 0 || beats(table[table.length - 1], table[best])) {
        best = table.length - 1;
        bestW = Ws[full];
        sinceBest = 0;
      } else if (++sinceBest >= (opts.patience ?? C_PATIENCE)) {
        break;
      }
    }
  } finally {
    await stepper.close();
  }
  return {
    search: {
      C: table[best].C,
      method: val ? 'val' : 'cv',
      ...(val ? {} : { folds: opts.folds }),
      table,
      reason: choiceReason(table, best, val ? 'val' : 'cv'),
    },
    weights: bestW,
    history: stepper.history[best]?.[full] ?? null,
    hitMaxIter: stepper.hitMaxIter,
  };
}

/** The C search as an aligned text table (chosen row marked) followed by the reason it won. */
export function formatCSearch(search: DeepReadonly<CSearchResult>): string {
  const on = search.method === 'val' ? 'val' : `${search.folds ?? ''}-fold CV`;
  const head = `${'C'.padStart(10)}  ${`${on} accuracy`.padStart(16)}  ${`${on} log-loss`.padStart(16)}`;
  const rows = search.table.map(
    (r) =>
      `${r.C.toPrecision(3).padStart(10)}  ${`${(100 * r.score).toFixed(2)} %`.padStart(16)}  ${(r.logLoss === undefined ? '-' : r.logLoss.toFixed(4)).padStart(16)}${r.C === search.C ? '  <- chosen' : ''}`,
  );
  return [head, ...rows, search.reason ?? ''].join('\n').trimEnd();
}
