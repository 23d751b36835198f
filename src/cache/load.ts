/**
 * Joins a cache's listing with its store: the training matrix of one split. The only place (with export) that
 * builds a whole-split array, because a solver needs one.
 */
import { ConvfeatError, UsageError } from '../util/errors';
import { invalid } from '../util/validate';
import { compareCodeUnits, normalizeSplit, SPLIT_NAMES_TEXT } from '../dataset/names';
import type { Split } from '../dataset/types';
import { listingClasses, readListing } from './listing';
import { splitsOf } from './splits';
import type { CacheMeta } from './meta';
import { EmbeddingStore } from './store';
import { param } from '../util/params';

export interface SplitData {
  /** N×D embeddings, row i belongs to paths[i]. */
  X: Float32Array;
  /** Class id per row (index into classes), -1 for an unlabelled image. */
  y: Int32Array;
  classes: string[];
  paths: string[];
  relPaths: string[];
  hashes: string[];
  dim: number;
  /** The model and preprocessing that made X (a classifier records it). */
  meta: CacheMeta;
}

export interface LoadSplitOptions {
  /** relPaths or paths to leave out (the rows a user excluded after `convfeat audit`). */
  exclude?: ReadonlySet<string>;
}

/** The embeddings of one split (or of every listed image when split is omitted). */
export function loadSplit(dir: string, split?: string, options: LoadSplitOptions = {}): SplitData {
  let wanted: Split | undefined;
  if (split !== undefined) {
    wanted = typeof split === 'string' ? normalizeSplit(split) : undefined;
    if (!wanted) throw invalid(param('split'), SPLIT_NAMES_TEXT, split);
  }
  const store = EmbeddingStore.open(dir, { mode: 'read' });
  try {
    const listing = readListing(store.dir);
    if (!listing || listing.length === 0) {
      throw new ConvfeatError(
        `The cache ${dir} lists no images yet; run convfeat extract --cache ${dir} to completion first.`,
      );
    }
    const classes = listingClasses(listing);
    // Rows in relPath order, not the listing's append order (cache hits are listed before fresh rows of the same
    // run), so a resumed extraction gives the same rows, CV folds and C as a fresh one.
    const exclude = options.exclude;
    const entries = listing
      .filter((e) => (!wanted || e.split === wanted) && !(exclude && (exclude.has(e.relPath) || exclude.has(e.path))))
      .sort((a, b) => compareCodeUnits(a.relPath, b.relPath));
    if (entries.length === 0 && exclude && exclude.size > 0) {
      throw new UsageError(
        `${param('exclude')} leaves no images in ${wanted ? `split ${wanted}` : 'the cache'} ${dir}; check the file.`,
      );
    }
    if (entries.length === 0) {
      const present = splitsOf(listing);
      throw new UsageError(
        present.length
          ? `The cache ${dir} has no images in split ${wanted}; it has ${present.join(', ')}.`
          : `The cache ${dir} has no splits, so ${param('split')} ${wanted} selects nothing; drop ${param('split')}.`,
      );
    }
    const classIds = new Map(classes.map((c, i) => [c, i]));
    const y = new Int32Array(entries.length);
    entries.forEach((e, i) => (y[i] = e.label === undefined ? -1 : classIds.get(e.label)!));
    const hashes = entries.map((e) => e.hash);
    return {
      X: store.gather(hashes),
      y,
      classes,
      paths: entries.map((e) => e.path),
      relPaths: entries.map((e) => e.relPath),
      hashes,
      dim: store.dim,
      meta: store.meta,
    };
  } finally {
    store.close();
  }
}
