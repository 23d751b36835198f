/**
 * `convfeat advise`: a learning curve on the cached embeddings and what it says. The train split is subsampled per
 * class (stratified, seeded, at least one image per class) at several fractions; a linear classifier is fitted on
 * each subset and scored on val (or by stratified k-fold CV on train when there is no val; test is never touched).
 * The slope of accuracy against log2(training images) over the last points, the dataset size and the accuracy
 * level then place the dataset in the classic transfer-learning decision matrix (CS231n, "Transfer Learning"):
 * small data + similar domain → keep fixed features; large data or a dissimilar domain → fine-tune.
 */
import { cacheSplits, loadSplit, type SplitData } from '../cache';
import { LinearClassifier, SOLVERS, stratifiedFolds, type ScaleKind, type SolverKind } from '../linear';
import { Prng } from '../util/prng';
import { ConvfeatError } from '../util/errors';
import { integerInRange, invalid, oneOf, positiveNumber } from '../util/validate';
import { accuracy } from './metrics';
import { recommend, type Recommendation } from './recommend';
import { SCALE_KINDS } from '../linear/scaler';
import { toEmbeddings, type Embeddings } from '../util/embeddings';
import { param } from '../util/params';

/** Every default is `convfeat advise`'s (and the classifier's are `convfeat fit-linear`'s), so code and CLI agree. */
export interface AdviseOptions {
  /** Default DEFAULT_FRACTIONS: 0.05, 0.1, 0.2, 0.5, 1. */
  fractions?: number[];
  /** Default 3. */
  seeds?: number;
  /** Default 'svm'. */
  solver?: SolverKind;
  /** A fixed C; default: chosen once on the full train split (val or CV) and kept for every subset; 'auto': re-chosen per subset (slower). */
  C?: number | 'auto';
  /** Default 'none', as fit-linear's. */
  scale?: ScaleKind;
  /** Folds for CV when the cache has no val split (default 5, fewer when a class has fewer images). */
  folds?: number;
  /** Default: in-process for small subsets, else one per core (as fit-linear). */
  threads?: number;
}

export interface CurvePoint {
  fraction: number;
  /** Training images per run (the same for every seed: per-class counts are fixed by the fraction). */
  trainSize: number;
  minPerClass: number;
  accuracies: number[];
  mean: number;
  /** Sample standard deviation over seeds (0 with one seed). */
  std: number;
}

export interface Advice extends Recommendation {
  points: CurvePoint[];
  solver: SolverKind;
  /** The C used for every subset (null when re-chosen per subset). */
  C: number | null;
  evaluation: { method: 'val'; size: number } | { method: 'cv'; folds: number };
  classes: string[];
  trainSize: number;
  perClass: { min: number; median: number; max: number };
  seconds: number;
}

export const DEFAULT_FRACTIONS = [0.05, 0.1, 0.2, 0.5, 1];
export const DEFAULT_SEEDS = 3;
const IN_PROCESS_ROWS = 20000;

/** The linear stage's seeded PRNG (mulberry32), as a plain function. */
function rng(seed: number): () => number {
  const prng = new Prng(seed);
  return () => prng.next();
}

/** Rows of `pool` grouped by class, each group shuffled by the seed. */
function shuffledByClass(y: Int32Array, pool: Int32Array, K: number, seed: number): number[][] {
  const rand = rng(seed);
  const groups: number[][] = Array.from({ length: K }, () => []);
  for (const i of pool) groups[y[i]].push(i);
  for (const g of groups) {
    for (let i = g.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [g[i], g[j]] = [g[j], g[i]];
    }
  }
  return groups;
}

/** The first round(f·n_k) (at least 1) rows of every class: nested subsets, so larger fractions add images. */
function subsample(groups: number[][], fraction: number): Int32Array {
  const rows: number[] = [];
  for (const g of groups) if (g.length) rows.push(...g.slice(0, Math.max(1, Math.round(fraction * g.length))));
  return Int32Array.from(rows.sort((a, b) => a - b));
}

function gather(X: Float32Array, dim: number, rows: Int32Array): Float32Array {
  const out = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => out.set(X.subarray(r * dim, (r + 1) * dim), i * dim));
  return out;
}

function checkFractions(fractions: unknown): number[] {
  if (
    !Array.isArray(fractions) ||
    fractions.length < 2 ||
    fractions.some((f) => typeof f !== 'number' || !(f > 0 && f <= 1))
  ) {
    throw invalid(param('fractions'), 'a list of at least two numbers in (0, 1]', fractions);
  }
  return [...new Set(fractions as number[])].sort((a, b) => a - b);
}

function loadTrainVal(cacheDir: string): { train: SplitData; val?: SplitData } {
  const splits = new Set<string>(cacheSplits(cacheDir));
  if (splits.size > 0 && !splits.has('train')) {
    throw new ConvfeatError(
      `The cache ${cacheDir} has no train split (it has ${[...splits].sort().join(', ')}); extract a train split first.`,
    );
  }
  const train = loadSplit(cacheDir, splits.size ? 'train' : undefined);
  const val = splits.has('val') ? loadSplit(cacheDir, 'val') : undefined;
  for (const [data, what] of [
    [train, 'train'],
    [val, 'val'],
  ] as const) {
    const i = data ? data.y.findIndex((v) => v < 0) : -1;
    if (data && i >= 0)
      throw new ConvfeatError(
        `The ${what} images include unlabelled ones (e.g. ${data.relPaths[i]}); advise needs labelled images.`,
      );
  }
  return { train, val };
}

/** Learning curve from arrays (the cache-free core of `advise`, also what tests drive directly). */
export async function learningCurve(
  train: { X: Float32Array; y: Int32Array; classes: string[]; dim: number },
  val: { X: Float32Array; y: Int32Array } | undefined,
  options: AdviseOptions = {},
): Promise<Advice> {
  const started = Date.now();
  const fractions = checkFractions(options.fractions ?? DEFAULT_FRACTIONS);
  const seeds = integerInRange(param('seeds'), options.seeds ?? DEFAULT_SEEDS, 1, 100);
  const solver = oneOf(param('solver'), options.solver ?? 'svm', SOLVERS);
  const scale = oneOf(param('scale'), options.scale ?? 'none', SCALE_KINDS);
  if (options.C !== undefined && options.C !== 'auto') positiveNumber(param('C'), options.C);
  const { X, y, classes, dim } = train;
  const K = classes.length;
  const counts = new Array<number>(K).fill(0);
  for (const v of y) counts[v]++;
  const present = counts.map((c, k) => ({ c, k })).filter((e) => e.c > 0);
  if (present.length < 2)
    throw new ConvfeatError('The train split has fewer than two classes; a learning curve needs at least two.');
  const rare = present.find((e) => e.c < 2);
  if (rare) {
    throw new ConvfeatError(
      `Class ${JSON.stringify(classes[rare.k])} has only ${rare.c} training image; a learning curve needs at least 2 per class (better 20 or more). Add images or drop the class.`,
    );
  }
  const sorted = present.map((e) => e.c).sort((a, b) => a - b);
  const perClass = { min: sorted[0], median: sorted[Math.floor(sorted.length / 2)], max: sorted[sorted.length - 1] };
  const folds = val ? 0 : Math.min(integerInRange(param('folds'), options.folds ?? 5, 2, 100), perClass.min);
  const base = { solver, scale, threads: options.threads };
  const trainX = toEmbeddings(X, dim, 'train.X');
  const valX = val && toEmbeddings(val.X, dim, 'val.X');

  // One C for the whole curve (chosen on all of train), so the curve shows data, not a moving hyper-parameter.
  let C: number | 'auto';
  if (options.C === undefined) {
    const full = await new LinearClassifier({ ...base, C: 'auto', folds: Math.max(2, folds || 5) }).fit(trainX, y, {
      classes,
      ...(val && valX ? { val: { X: valX, y: val.y } } : {}),
    });
    C = full.C;
  } else C = options.C;

  const n = y.length;
  const all = Int32Array.from({ length: n }, (_, i) => i);
  // Evaluation sets: val once, or the k folds (re-dealt per seed).
  const runs = (seed: number): Array<{ pool: Int32Array; X: Embeddings; y: Int32Array }> => {
    if (val && valX) return [{ pool: all, X: valX, y: val.y }];
    const fold = stratifiedFolds(y, K, folds, seed);
    return Array.from({ length: folds }, (_, f) => {
      const test = all.filter((i) => fold[i] === f);
      return {
        pool: all.filter((i) => fold[i] !== f),
        X: toEmbeddings(gather(X, dim, test), dim),
        y: y.filter((_, i) => fold[i] === f),
      };
    });
  };

  const points: CurvePoint[] = fractions.map((fraction) => ({
    fraction,
    trainSize: 0,
    minPerClass: 0,
    accuracies: [],
    mean: 0,
    std: 0,
  }));
  for (let s = 0; s < seeds; s++) {
    for (const run of runs(s + 1)) {
      const groups = shuffledByClass(y, run.pool, K, 1000 + s);
      for (const point of points) {
        const rows = subsample(groups, point.fraction);
        // Worker threads cost ~0.3 s to start, more than a fit on a few thousand rows: small subsets train in-process.
        const threads = rows.length < IN_PROCESS_ROWS ? 1 : options.threads;
        const clf = await new LinearClassifier({ ...base, threads, C, seed: s + 1, folds: 2 }).fit(
          toEmbeddings(gather(X, dim, rows), dim),
          Int32Array.from(rows, (r) => y[r]),
          { classes },
        );
        point.accuracies.push(accuracy(run.y, clf.predict(run.X)));
        point.trainSize += rows.length;
        point.minPerClass = Math.min(
          ...groups.filter((g) => g.length).map((g) => Math.max(1, Math.round(point.fraction * g.length))),
        );
      }
    }
  }
  const perSeed = val ? 1 : folds;
  for (const p of points) {
    p.trainSize = Math.round(p.trainSize / p.accuracies.length);
    // Fold accuracies of one seed are averaged first: the spread shown is between seeds, as labelled.
    const bySeed = Array.from(
      { length: seeds },
      (_, s) => p.accuracies.slice(s * perSeed, (s + 1) * perSeed).reduce((a, b) => a + b, 0) / perSeed,
    );
    p.accuracies = bySeed;
    p.mean = bySeed.reduce((a, b) => a + b, 0) / seeds;
    p.std = seeds > 1 ? Math.sqrt(bySeed.reduce((a, b) => a + (b - p.mean) ** 2, 0) / (seeds - 1)) : 0;
  }
  const evaluation = val ? { method: 'val' as const, size: val.y.length } : { method: 'cv' as const, folds };
  return {
    points,
    solver,
    C: C === 'auto' ? null : C,
    evaluation,
    classes: [...classes],
    trainSize: n,
    perClass,
    ...recommend(points, perClass),
    seconds: (Date.now() - started) / 1000,
  };
}

/** The learning curve of a cache's train split, scored on its val split (or by CV), with a recommendation. */
export async function advise(cacheDir: string, options: AdviseOptions = {}): Promise<Advice> {
  if (typeof cacheDir !== 'string' || !cacheDir) throw invalid(param('cacheDir'), 'a cache directory', cacheDir);
  const { train, val } = loadTrainVal(cacheDir);
  return learningCurve(train, val && { X: val.X, y: val.y }, options);
}
