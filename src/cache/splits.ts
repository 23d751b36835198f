/**
 * Which splits a cache holds. Fitting, evaluating, advising and loading all ask it before choosing what to read
 * (train for fitting, test for scoring, an error naming what is there); one answer keeps their sentences and their
 * choices the same.
 */
import type { Split } from '../dataset/types';
import { forEachListed, type ListingEntry } from './listing';

/** The distinct splits of some entries (listed images, dataset items), sorted; [] when none has a split. */
export function splitsOf(entries: Iterable<Pick<ListingEntry, 'split'>>): Split[] {
  const seen = new Set<Split>();
  for (const e of entries) if (e.split !== undefined) seen.add(e.split);
  return [...seen].sort();
}

/**
 * The splits of the images a cache lists, sorted; [] when they have none or no extraction has completed yet. The
 * listing is streamed: a cache of millions of images is not held to answer this.
 */
export function cacheSplits(cacheDir: string): Split[] {
  const seen = new Set<Split>();
  forEachListed(cacheDir, (e) => e.split !== undefined && seen.add(e.split));
  return [...seen].sort();
}
