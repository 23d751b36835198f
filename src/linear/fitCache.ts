/**
 * Fitting a classifier on a cache's embeddings: the train split (or every listed image when the cache has no
 * splits), C chosen on the val split when there is one (else by stratified k-fold CV on train), and the classifier
 * stamped with the backbone and preprocessing it was trained on, so it can refuse other embeddings later.
 */
import { loadSplit, readListing, type SplitData } from '../cache';
import { ConvfeatError } from '../util/errors';
import { LinearClassifier, type LinearClassifierOptions } from './classifier';
import type { DeepReadonly, FitMetrics } from './fitted';
import { toEmbeddings } from '../util/embeddings';
import { param } from '../util/params';
import { invalid } from '../util/validate';

/** Hyper-parameters as LinearClassifier's (defaults = `convfeat fit-linear`'s), plus what to read from the cache. */
export interface FitFromCacheOptions extends LinearClassifierOptions {
  /** Use the val split for C selection and calibration when the cache has one (default true). */
  useVal?: boolean;
  /** relPaths or paths to leave out of train and val (e.g. read from convfeat audit's issues.csv). */
  exclude?: ReadonlySet<string>;
}

export interface FitFromCacheResult {
  classifier: LinearClassifier;
  trainSplit: string;
  trainSize: number;
  valSize: number;
  /** How C was chosen: 'fixed', 'val' or 'cv'. */
  cSelection: 'fixed' | 'val' | 'cv';
  trainAccuracy: number;
  valAccuracy: number | null;
  seconds: number;
}

function assertLabelled(data: SplitData, what: string, cacheDir: string): void {
  const unlabelled = data.y.findIndex((v) => v < 0);
  if (unlabelled >= 0) {
    throw new ConvfeatError(
      `The ${what} images in ${cacheDir} include unlabelled ones (e.g. ${data.relPaths[unlabelled]}); fit-linear needs class folders or a manifest with labels.`,
    );
  }
}

export async function fitFromCache(cacheDir: string, options: FitFromCacheOptions = {}): Promise<FitFromCacheResult> {
  const started = Date.now();
  if (typeof cacheDir !== 'string' || cacheDir === '') throw invalid(param('cacheDir'), 'a cache directory', cacheDir);
  if (options === null || typeof options !== 'object') throw invalid('options', 'an object of fit options', options);
  const { useVal: _ignored, exclude: _excluded, ...clfOptions } = options;
  void _ignored;
  void _excluded;
  // Hyper-parameters are checked before a large cache is read, so a typo costs no minutes.
  const estimator = new LinearClassifier(clfOptions);
  if (options.useVal !== undefined && typeof options.useVal !== 'boolean')
    throw invalid(param('useVal'), 'true or false', options.useVal);
  if (options.exclude !== undefined && !(options.exclude instanceof Set))
    throw invalid(param('exclude'), 'a Set of relPaths or paths', options.exclude);
  const listing = readListing(cacheDir) ?? [];
  const splits = new Set(listing.map((e) => e.split).filter((s) => s !== undefined));
  const hasSplits = splits.size > 0;
  if (hasSplits && !splits.has('train')) {
    throw new ConvfeatError(
      `The cache ${cacheDir} has splits ${[...splits].sort().join(', ')} but no train split; extract a train split first.`,
    );
  }
  const loadOptions = options.exclude ? { exclude: options.exclude } : {};
  const train = loadSplit(cacheDir, hasSplits ? 'train' : undefined, loadOptions);
  assertLabelled(train, hasSplits ? 'train' : 'listed', cacheDir);
  const counts = new Int32Array(train.classes.length);
  for (let i = 0; i < train.y.length; i++) counts[train.y[i]!]! += 1;
  const missing = train.classes.filter((_, k) => counts[k] === 0);
  if (missing.length > 0) {
    throw new ConvfeatError(
      `Class${missing.length > 1 ? 'es' : ''} ${missing.join(', ')} ${missing.length > 1 ? 'have' : 'has'} images in the cache but none in the ${hasSplits ? 'train split' : 'listing'}; a classifier cannot learn ${missing.length > 1 ? 'them' : 'it'}: add training images or remove ${missing.length > 1 ? 'those classes' : 'that class'} and extract again.`,
    );
  }
  const useVal = options.useVal !== false && splits.has('val');
  const val = useVal ? loadSplit(cacheDir, 'val', loadOptions) : undefined;
  if (val) assertLabelled(val, 'val', cacheDir);

  const clf = await estimator.fit(toEmbeddings(train.X, train.dim), train.y, {
    classes: train.classes,
    ...(val ? { val: { X: toEmbeddings(val.X, val.dim), y: val.y } } : {}),
    backbone: { fingerprint: train.meta.modelFingerprint, model: train.meta.model },
    preprocessFingerprint: train.meta.preprocessFingerprint,
  });
  const metrics = clf.metrics as DeepReadonly<FitMetrics>;
  return {
    classifier: clf,
    trainSplit: hasSplits ? 'train' : 'all',
    trainSize: train.y.length,
    valSize: val?.y.length ?? 0,
    cSelection: metrics.cSelection,
    trainAccuracy: metrics.trainAccuracy,
    valAccuracy: metrics.valAccuracy,
    seconds: (Date.now() - started) / 1000,
  };
}
