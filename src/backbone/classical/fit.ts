/**
 * Fitting a bag-of-visual-words codebook from a dataset: ORB features of the train split's images only (val and test
 * images never influence it — a test checks this), k-means on a seeded sample of their descriptors.
 */
import * as fs from 'fs';
import type { Dataset, DatasetItem } from '../../dataset/types';
import { preprocessDetailed } from '../../preprocess/transform';
import { ConvfeatError, describeError } from '../../util/errors';
import { sha256Hex } from '../../util/hash';
import { fitCodebook, type Codebook } from './codebook';
import { BOW_SPEC } from './specs';
import { openOrb, type LocalFeatures } from './orb';

export interface CodebookFitOptions {
  words?: number;
  seed?: number;
  /** At most this many train images, taken evenly over the relPath order (default 400). */
  maxImages?: number;
  maxDescriptors?: number;
  /** The split the codebook is fitted on (default train; datasets without splits use every image). */
  split?: string;
  log?: (line: string) => void;
}

/** Evenly spaced picks over a sorted list, so every class of a class-sorted dataset is represented. */
function evenly<T>(items: readonly T[], count: number): T[] {
  if (items.length <= count) return [...items];
  const out: T[] = [];
  for (let i = 0; i < count; i++) out.push(items[Math.floor((i * items.length) / count)]!);
  return out;
}

export async function fitCodebookFromDataset(dataset: Dataset, opts: CodebookFitOptions = {}): Promise<Codebook> {
  const split = opts.split ?? 'train';
  const hasSplits = dataset.items.some((i) => i.split !== undefined);
  const pool: DatasetItem[] = (hasSplits ? dataset.items.filter((i) => i.split === split) : [...dataset.items]).sort(
    (a, b) => (a.relPath < b.relPath ? -1 : a.relPath > b.relPath ? 1 : 0),
  );
  if (pool.length === 0) {
    throw new ConvfeatError(
      `The dataset has no ${split} images to fit a codebook on; the codebook must come from training images only.`,
    );
  }
  const picked = evenly(pool, opts.maxImages ?? 400);
  // The spec of the backbone that will use the codebook: the same pixels at fit and at extraction.
  const spec = BOW_SPEC;
  const orb = await openOrb(500);
  const features: LocalFeatures[] = [];
  const hashes: string[] = [];
  try {
    for (const item of picked) {
      try {
        const bytes = fs.readFileSync(item.path);
        const { tensor } = await preprocessDetailed(bytes, { spec, exif: 'apply' });
        features.push(orb.features(tensor, spec.crop!.height, spec.crop!.width));
        hashes.push(sha256Hex(bytes));
      } catch (e) {
        opts.log?.(`skipped ${JSON.stringify(item.relPath)}: ${describeError(e)}`);
      }
    }
  } finally {
    orb.close();
  }
  if (features.length === 0) throw new ConvfeatError(`None of the ${picked.length} ${split} images could be read.`);
  return fitCodebook(features, {
    words: opts.words ?? 256,
    seed: opts.seed ?? 0,
    maxDescriptors: opts.maxDescriptors ?? 10000,
    split: hasSplits ? split : 'all (the dataset has no splits)',
    imageHashes: hashes,
  });
}
