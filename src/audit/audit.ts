/**
 * `auditCache`: what a cache's embeddings say about its data, in one pass over the similarity matrix (duplicates,
 * leakage, neighbours for outliers) plus k-fold fits of the linear classifier for confident learning. Works on any
 * cache the listing describes; without labels it still reports duplicates and outliers and says why the label
 * checks were skipped.
 */
import { loadSplit, readListing } from '../cache';
import { LinearClassifier } from '../linear';
import { toEmbeddings } from '../util/embeddings';
import { accuracy } from '../linear/data';
import { defaultCGrid } from '../linear/search';
import { integerInRange, numberInRange } from '../util/validate';
import { DEFAULT_NEAR_DUPLICATE_THRESHOLD, findDuplicates, leakedRows, type DuplicatePair } from './duplicates';
import { confidentLearning, outOfFoldProbabilities, type LabelIssue } from './labels';
import { DEFAULT_OUTLIER_Z, findOutliers, neighbourScores, type Outlier } from './outliers';
import { indexedSelfSearch } from './indexedSelf';
import { normalizeRows, selfSearch, type SimilarPair } from './search';
import { DEFAULT_PIXEL_THRESHOLD, PixelVerifier } from './verify';
import { param } from '../util/params';

export interface AuditOptions {
  /** Cosine similarity at or above which two images are near-duplicates. */
  nearThreshold?: number;
  /** Confirm embedding candidates by thumbnail correlation (default true); false: cosine alone decides. */
  verifyPixels?: boolean;
  /** Thumbnail correlation at or above which a candidate is a duplicate. */
  pixelThreshold?: number;
  /** Neighbours per image for the outlier score. */
  k?: number;
  /** Robust z below which an image is an outlier. */
  outlierZ?: number;
  /** Folds for the out-of-fold probabilities of the label check. */
  folds?: number;
  seed?: number;
  /** A fitted classifier to score the test split with and without its leaked images (default: a quick fit). */
  classifier?: LinearClassifier;
  /** Score all N² pairs exactly, never through the vector index. */
  exact?: boolean;
  /** Use the vector index from this many rows on (default INDEX_MIN_ROWS). */
  indexMinRows?: number;
  log?: (line: string) => void;
}

export interface AuditRow {
  relPath: string;
  path: string;
  split?: string;
  label?: string;
  hash: string;
}

export interface LeakageEffect {
  split: string;
  images: number;
  leaked: number;
  accuracy: number;
  /** Accuracy on the split without the images that have a duplicate in another split (null when all leaked). */
  cleanedAccuracy: number | null;
  classifier: string;
}

export interface AuditResult {
  cache: string;
  model: string;
  dim: number;
  classes: string[];
  rows: AuditRow[];
  nearThreshold: number;
  /** null when the pixel check was off. */
  pixelThreshold: number | null;
  /** Candidate pairs the pixel check found to be different pictures (similar content, not copies). */
  similarNotDuplicate: number;
  duplicates: DuplicatePair[];
  leakage: LeakageEffect | null;
  /** Why the accuracy effect of leakage was not measured (no pairs across splits, no labels, …). */
  leakageNote: string | null;
  labelIssues: LabelIssue[];
  /** Why label checks were skipped, or null when they ran. */
  labelsSkipped: string | null;
  labelCheck: { folds: number; C: number; thresholds: number[] } | null;
  outliers: Outlier[];
  outlierK: number;
  outlierZ: number;
  /** Outliers were judged within each class (true) or among all images (no labels). */
  outliersPerClass: boolean;
  seconds: number;
}

function rowsOf(X: Float32Array, dim: number, rows: number[]): Float32Array {
  const out = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => out.set(X.subarray(r * dim, (r + 1) * dim), i * dim));
  return out;
}

export async function auditCache(cacheDir: string, options: AuditOptions = {}): Promise<AuditResult> {
  const started = Date.now();
  const nearThreshold = numberInRange(
    param('nearThreshold'),
    options.nearThreshold ?? DEFAULT_NEAR_DUPLICATE_THRESHOLD,
    0,
    1,
    true,
  );
  const verifyPixels = options.verifyPixels !== false;
  const pixelThreshold = numberInRange(
    param('pixelThreshold'),
    options.pixelThreshold ?? DEFAULT_PIXEL_THRESHOLD,
    -1,
    1,
  );
  const k = integerInRange(param('k'), options.k ?? 5, 1, 100);
  const outlierZ = numberInRange(param('outlierZ'), options.outlierZ ?? DEFAULT_OUTLIER_Z, 0, 100, true);
  const requestedFolds = integerInRange(param('folds'), options.folds ?? 5, 2, 50);
  const seed = integerInRange(param('seed'), options.seed ?? 1, 0, 2 ** 31 - 1);
  const log = options.log ?? (() => undefined);

  const data = loadSplit(cacheDir);
  const splitOf = new Map((readListing(cacheDir) ?? []).map((e) => [e.relPath, e.split as string | undefined]));
  const splits = data.relPaths.map((r) => splitOf.get(r));
  const n = data.y.length;
  const dim = data.dim;
  const K = data.classes.length;
  const rows: AuditRow[] = data.relPaths.map((relPath, i) => ({
    relPath,
    path: data.paths[i]!,
    ...(splits[i] !== undefined ? { split: splits[i] } : {}),
    ...(data.y[i]! >= 0 ? { label: data.classes[data.y[i]!] } : {}),
    hash: data.hashes[i]!,
  }));
  const labelled = data.y.some((v) => v >= 0);

  log(`searching ${n} × ${n} cosine similarities (${dim}-d)…`);
  const Xn = normalizeRows(data.X, dim);
  const hashes = data.hashes;
  const searchOptions = {
    k,
    pairThreshold: nearThreshold,
    // Neighbours for the outlier score: same class when labelled (an image is judged against its own class), never
    // a byte-identical copy of itself (that would make any duplicated junk look typical).
    allowed: (i: number, j: number) => hashes[i] !== hashes[j] && (!labelled || data.y[i] === data.y[j]),
  };
  // Large caches go through the vector index (src/audit/vectorIndex.ts); exact search is the fallback and reference.
  const { neighbours, pairs } =
    (options.exact
      ? undefined
      : indexedSelfSearch(cacheDir, { Xn, dim, hashes, modelFingerprint: data.meta.modelFingerprint }, searchOptions, {
          ...(options.indexMinRows !== undefined ? { minRows: options.indexMinRows } : {}),
          log,
        })) ?? selfSearch(Xn, dim, searchOptions);
  let candidates: Array<SimilarPair & { pixel?: number | null }> = pairs;
  let similarNotDuplicate = 0;
  if (verifyPixels) {
    const near = pairs.filter((p) => hashes[p.a] !== hashes[p.b]);
    log(`pixel check of ${near.length} candidate pair${near.length === 1 ? '' : 's'}…`);
    const verifier = new PixelVerifier();
    candidates = [];
    for (const p of near) {
      const pixel = await verifier.similarity(data.paths[p.a]!, data.paths[p.b]!);
      // A file that moved since extraction cannot be checked: the pair stays, marked unverified (pixel null).
      if (pixel === null || pixel >= pixelThreshold) candidates.push({ ...p, pixel });
      else similarNotDuplicate++;
    }
  }
  const duplicates = findDuplicates(hashes, splits, candidates);
  const groups = labelled ? Int32Array.from(data.y) : new Int32Array(n);
  const outliers = findOutliers(neighbourScores(neighbours), groups, outlierZ);

  // Label checks: confident learning on out-of-fold probabilities.
  let labelsSkipped: string | null = null;
  let labelIssues: LabelIssue[] = [];
  let labelCheck: AuditResult['labelCheck'] = null;
  let quick: { clf: LinearClassifier; how: string } | null = null;
  const counts = new Int32Array(K);
  for (let i = 0; i < n; i++) if (data.y[i]! >= 0) counts[data.y[i]!]! += 1;
  const usable = [...counts].filter((c) => c >= 2).length;
  if (!labelled) {
    labelsSkipped =
      'the cache lists no labels (images were not in class folders and no manifest label column was given), so there is nothing to check labels against';
  } else if (usable < 2) {
    labelsSkipped = `label checks need at least two classes with two or more images each; this cache has ${usable}`;
  } else {
    const trainRows = splits.map((s, i) => (s === 'train' && data.y[i]! >= 0 ? i : -1)).filter((i) => i >= 0);
    const valRows = splits.map((s, i) => (s === 'val' && data.y[i]! >= 0 ? i : -1)).filter((i) => i >= 0);
    const fitRows =
      trainRows.length > 0 ? trainRows : data.y.reduce<number[]>((a, v, i) => (v >= 0 && a.push(i), a), []);
    const trainCounts = new Int32Array(K);
    for (const r of fitRows) trainCounts[data.y[r]!]! += 1;
    // C as the user's own fit-linear would choose it: on val when there is one, else by cross-validation.
    log(`choosing C on ${valRows.length > 0 && trainRows.length > 0 ? 'val' : 'cross-validation'}…`);
    const clf = new LinearClassifier({ solver: 'svm', C: 'auto', scale: 'none', seed });
    const yFit = Int32Array.from(fitRows, (r) => data.y[r]!);
    if (trainCounts.every((c) => c > 0)) {
      await clf.fit(toEmbeddings(rowsOf(data.X, dim, fitRows), dim), yFit, {
        classes: data.classes,
        ...(valRows.length > 0 && trainRows.length > 0
          ? {
              val: {
                X: toEmbeddings(rowsOf(data.X, dim, valRows), dim),
                y: Int32Array.from(valRows, (r) => data.y[r]!),
              },
            }
          : {}),
      });
      quick = {
        clf,
        how: `svm fitted on ${trainRows.length > 0 ? 'train' : 'all labelled images'} (C ${clf.C.toPrecision(3)} chosen on ${valRows.length > 0 && trainRows.length > 0 ? 'val' : 'cross-validation'})`,
      };
    }
    // Without a train split holding every class there is no fit-linear C to reuse: take the centre of the svm grid
    // (search.ts scales it by the rows' mean squared norm, so it suits any embedding scale).
    const grid = defaultCGrid('svm', data.X, dim);
    const C = quick ? quick.clf.C : grid[grid.length >> 1]!;
    // Rows of a class with a single image cannot be held out and predicted: they are left out of the check.
    const y = Int32Array.from(data.y, (v) => (v >= 0 && counts[v]! >= 2 ? v : -1));
    const minCount = Math.min(...[...counts].filter((c) => c >= 2));
    const folds = Math.min(requestedFolds, minCount);
    log(`out-of-fold probabilities: ${folds} folds, C ${C.toPrecision(3)}…`);
    const probs = await outOfFoldProbabilities(data.X, dim, y, K, { folds, C, seed });
    const cl = confidentLearning(probs, y, K);
    labelIssues = cl.issues;
    labelCheck = { folds, C, thresholds: [...cl.thresholds] };
  }

  // Leakage: the accuracy of the evaluation split with and without its images that also appear in another split.
  let leakage: LeakageEffect | null = null;
  let leakageNote: string | null = null;
  const evalSplit = splits.includes('test') ? 'test' : splits.includes('val') ? 'val' : undefined;
  if (!duplicates.some((p) => p.crossSplit)) leakageNote = 'no image has a duplicate in another split';
  else if (!evalSplit) leakageNote = 'the cache has no test or val split to measure';
  else if (!labelled) leakageNote = 'the images have no labels, so accuracy cannot be measured';
  else {
    const chosen = options.classifier ? { clf: options.classifier, how: 'the classifier given' } : quick;
    if (!chosen) leakageNote = 'no classifier was given and none could be fitted on train';
    else {
      const evalRows = splits
        .map((s, i) =>
          s === evalSplit && data.y[i]! >= 0 && chosen.clf.classes.includes(data.classes[data.y[i]!]!) ? i : -1,
        )
        .filter((i) => i >= 0);
      const ids = new Map(chosen.clf.classes.map((c, i) => [c, i]));
      const leaked = leakedRows(duplicates, splits, evalSplit);
      const score = (rs: number[]): number | null =>
        rs.length === 0
          ? null
          : accuracy(
              Int32Array.from(rs, (r) => ids.get(data.classes[data.y[r]!]!)!),
              chosen.clf.predict(toEmbeddings(rowsOf(data.X, dim, rs), dim)),
            );
      const kept = evalRows.filter((r) => !leaked.has(r));
      leakage = {
        split: evalSplit,
        images: evalRows.length,
        leaked: evalRows.length - kept.length,
        accuracy: score(evalRows) ?? NaN,
        cleanedAccuracy: score(kept),
        classifier: chosen.how,
      };
    }
  }
  return {
    cache: cacheDir,
    model: data.meta.model,
    dim,
    classes: data.classes,
    rows,
    nearThreshold,
    pixelThreshold: verifyPixels ? pixelThreshold : null,
    similarNotDuplicate,
    duplicates,
    leakage,
    leakageNote,
    labelIssues,
    labelsSkipped,
    labelCheck,
    outliers,
    outlierK: k,
    outlierZ,
    outliersPerClass: labelled,
    seconds: (Date.now() - started) / 1000,
  };
}
