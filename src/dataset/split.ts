/**
 * A deterministic, stratified train/val/test split for a labelled folder that has none (the full Natural Images set,
 * any ImageFolder). Within each class, images are ranked by a seeded hash of their relative path and cut by the
 * fractions, so the same files and seed give the same split on any machine, in any scan order, and adding an image
 * moves only a few others. Default fractions are those of Mini Natural Images (1022 / 695 / 1909 of 3,626 images:
 * about 28 / 19 / 53 %), so figures on a full copy compare with the mini split's.
 */
import { createHash } from 'crypto';
import * as path from 'path';
import { writeFileAtomicSync } from '../util/atomic';
import { ConvfeatError } from '../util/errors';
import { compareCodeUnits } from './names';
import type { Dataset, DatasetItem, Split } from './types';

export const MINI_SPLIT_FRACTIONS = { train: 1022 / 3626, val: 695 / 3626 } as const;

export interface SplitOptions {
  /** Fractions of each class for train and val; test gets the rest (default MINI_SPLIT_FRACTIONS). */
  train?: number;
  val?: number;
  seed?: number;
}

function rankKey(seed: number, relPath: string): string {
  return createHash('sha256').update(`${seed}\0${relPath}`).digest('hex');
}

/** Per-class counts: rounded fractions, with at least one image in every split (so every class is in each). */
function counts(n: number, train: number, val: number): [number, number, number] {
  let nTrain = Math.max(1, Math.round(n * train));
  let nVal = Math.max(1, Math.round(n * val));
  while (nTrain + nVal > n - 1) {
    if (nTrain >= nVal && nTrain > 1) nTrain--;
    else nVal--;
  }
  return [nTrain, nVal, n - nTrain - nVal];
}

/**
 * Returns the items of `dataset` with a split assigned to each. Refuses unlabelled items and classes of fewer than 3
 * images (one per split is the least a stratified split can give).
 */
export function stratifiedSplit(dataset: Dataset, opts: SplitOptions = {}): DatasetItem[] {
  const train = opts.train ?? MINI_SPLIT_FRACTIONS.train;
  const val = opts.val ?? MINI_SPLIT_FRACTIONS.val;
  const seed = opts.seed ?? 0;
  if (!(train > 0 && val > 0 && train + val < 1))
    throw new ConvfeatError(
      `Expected split fractions train > 0, val > 0 and train + val < 1 but received ${train} and ${val}.`,
      2,
    );
  const byClass = new Map<string, DatasetItem[]>();
  for (const item of dataset.items) {
    if (item.label === undefined)
      throw new ConvfeatError(
        `${item.path} has no label; a split needs labelled images (one folder per class, or a manifest with a label column).`,
      );
    let list = byClass.get(item.label);
    if (!list) byClass.set(item.label, (list = []));
    list.push(item);
  }
  const small = [...byClass].filter(([, list]) => list.length < 3).map(([label, list]) => `${label} (${list.length})`);
  if (small.length)
    throw new ConvfeatError(
      `Each class needs at least 3 images to appear in train, val and test; add images to ${small.join(', ')} or remove ${small.length === 1 ? 'that class' : 'those classes'}.`,
    );
  const out: DatasetItem[] = [];
  for (const label of [...byClass.keys()].sort(compareCodeUnits)) {
    const ranked = byClass
      .get(label)!
      .map((item) => ({ item, key: rankKey(seed, item.relPath) }))
      .sort((a, b) => compareCodeUnits(a.key, b.key) || compareCodeUnits(a.item.relPath, b.item.relPath));
    const [nTrain, nVal] = counts(ranked.length, train, val);
    ranked.forEach(({ item }, i) => {
      const split: Split = i < nTrain ? 'train' : i < nTrain + nVal ? 'val' : 'test';
      out.push({ ...item, split });
    });
  }
  return out.sort((a, b) => compareCodeUnits(a.relPath, b.relPath));
}

/**
 * Writes the split as a JSONL manifest (`{"path","label","split"}` per line, paths relative to the manifest's
 * folder) that `scanDataset` and every command read. Returns the manifest's path.
 */
export function writeSplitManifest(file: string, items: DatasetItem[]): string {
  const dir = path.dirname(path.resolve(file));
  const lines = items.map((i) =>
    JSON.stringify({ path: path.relative(dir, i.path).split(path.sep).join('/'), label: i.label, split: i.split }),
  );
  writeFileAtomicSync(file, `${lines.join('\n')}\n`);
  return path.resolve(file);
}
