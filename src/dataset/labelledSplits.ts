/**
 * From "where the photos are" to a labelled dataset with train/val/test: the discovery every fit-on-a-folder needs.
 * It steps into the single wrapper folder an archive often unpacks to, refuses unlabelled or half-split data with a
 * sentence that says what to do, and splits a class-only folder (or a manifest without splits) per class, reproducibly
 * by seed, into a manifest written beside the caller's outputs, so a rerun reads the same split.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ConvfeatError } from '../util/errors';
import { param } from '../util/params';
import { integerInRange } from '../util/validate';
import { scanDataset } from './scan';
import { MINI_SPLIT_FRACTIONS, stratifiedSplit, writeSplitManifest } from './split';
import type { Dataset } from './types';

export interface LabelledSplitsOptions {
  /** Seed of the split made for data without splits (default 0). */
  seed?: number;
  /** Where the split manifest (split-seed<seed>.jsonl) is written when the data has no splits. */
  manifestDir: string;
  /** Progress lines (the wrapper folder stepped into, the split made). */
  log?: (line: string) => void;
  /** Who needs the data, as the messages name it (default 'labelledSplits'; the demo says 'the demo'). */
  purpose?: string;
}

export interface LabelledSplits {
  dataset: Dataset;
  /** null when the input had train/val/test; else the manifest the split was written to. */
  splitManifest: string | null;
  /** The folder (or manifest) actually read: `data`, or the single folder inside it. */
  input: string;
}

const isDir = (p: string): boolean => fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;

/** An archive often unpacks to one folder inside another (natural-images/natural_images/...): step into it. */
export function descendSingleFolder(dir: string): string {
  let current = dir;
  for (let depth = 0; depth < 3; depth++) {
    let names: string[];
    try {
      names = fs.readdirSync(current).filter((n) => !n.startsWith('.'));
    } catch {
      return current;
    }
    if (names.length !== 1 || !isDir(path.join(current, names[0]!))) return current;
    const inner = path.join(current, names[0]!);
    // One class folder of images is a (useless) one-class dataset, not a wrapper: stop where images are.
    if (!fs.readdirSync(inner).some((n) => isDir(path.join(inner, n)))) return current;
    current = inner;
  }
  return current;
}

/**
 * Finds the labelled data at `data` (train/val/test/<class>/, <class>/ only, or a manifest) and returns it with
 * train/val/test: as given, or split here per class (the Mini Natural Images fractions) into a manifest under
 * `manifestDir`. Refuses unlabelled data, data with train or test missing, and a manifest where only some rows have a
 * split.
 */
export async function labelledSplits(data: string, options: LabelledSplitsOptions): Promise<LabelledSplits> {
  const seed = integerInRange(param('seed'), options.seed ?? 0, 0, 2 ** 31 - 1);
  const purpose = options.purpose ?? 'labelledSplits';
  const log = options.log ?? (() => {});
  const input = isDir(data) ? descendSingleFolder(data) : data;
  if (input !== data) log(`using ${input} (the folder inside ${data})`);
  const scanned = await scanDataset(input);
  if (scanned.kind === 'unlabelled')
    throw new ConvfeatError(
      `${input} has no class folders; ${purpose} needs labelled images: one folder per class (<class>/*.jpg), or train/val/test/<class>/, or a manifest with a label column.`,
    );
  const splits = new Set(scanned.items.map((i) => i.split));
  if (!splits.has(undefined)) {
    if (splits.has('train') && splits.has('test')) return { dataset: scanned, splitManifest: null, input };
    throw new ConvfeatError(
      `${input} has only ${[...splits].join(' and ')}, but ${purpose} needs at least train and test; add the missing split, or point ${param('data')} at a folder of class folders to have it split here.`,
    );
  }
  if (splits.size > 1)
    throw new ConvfeatError(
      `Some images of ${input} have a split and others do not; give every row a split, or none to have ${purpose} split them.`,
    );
  const items = stratifiedSplit(scanned, { seed });
  const manifest = writeSplitManifest(path.join(options.manifestDir, `split-seed${seed}.jsonl`), items);
  const n = (s: string): number => items.filter((i) => i.split === s).length;
  log(
    `${input} has no train/val/test folders: split its ${items.length} images, per class, seed ${seed}, ` +
      `${(100 * MINI_SPLIT_FRACTIONS.train).toFixed(0)}/${(100 * MINI_SPLIT_FRACTIONS.val).toFixed(0)}/rest % as in Mini Natural Images: ` +
      `train ${n('train')}, val ${n('val')}, test ${n('test')} -> ${manifest}`,
  );
  const dataset = await scanDataset(manifest);
  return {
    dataset: { ...dataset, problems: [...scanned.problems, ...dataset.problems] },
    splitManifest: manifest,
    input,
  };
}
