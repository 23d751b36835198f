/**
 * Which splits a cache holds. Fitting, evaluating, advising and loading all ask it before choosing what to read
 * (train for fitting, test for scoring, an error naming what is there); one answer keeps their sentences and their
 * choices the same.
 */
import { splitsOf } from '../dataset/names';
import type { Split } from '../dataset/types';
import { forEachListed } from './listing';

/** For entries in hand (a listing already read, dataset items): the same answer, from dataset/names. */
export { splitsOf };

/**
 * The splits of the images a cache lists, sorted; [] when they have none or no extraction has completed yet. The
 * listing is streamed: a cache of millions of images is not held to answer this.
 */
export function cacheSplits(cacheDir: string): Split[] {
  const seen = new Set<Split>();
  forEachListed(cacheDir, (e) => e.split !== undefined && seen.add(e.split));
  return [...seen].sort();
}
