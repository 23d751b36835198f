/**
 * The dataset stage's door: turns what the user points at (a folder or a manifest) into a sorted list of items
 * with labels and splits, plus the problems met on the way. No image is opened here; extract reads, hashes and
 * decodes them.
 */
import * as fs from 'fs';
import * as path from 'path';
import { UsageError } from '../util/errors';
import { invalid, nonEmptyString, oneOf } from '../util/validate';
import { scanFolder } from './folder';
import { isManifestFile, readManifest } from './manifest';
import {
  compareCodeUnits,
  IMAGE_EXTENSIONS,
  looksLikeImage,
  normalizeSplit,
  SPLIT_NAMES_TEXT,
  splitsOf,
} from './names';
import type { Dataset, DatasetItem, DatasetKind, LayoutOption, ScanOptions, ScanProblem, Split } from './types';
import { param } from '../util/params';

const LAYOUTS: readonly LayoutOption[] = ['auto', 'imagefolder', 'imagefolder-splits', 'unlabelled'];

function sortedClasses(items: readonly DatasetItem[]): string[] {
  const labels = new Set<string>();
  for (const it of items) if (it.label !== undefined) labels.add(it.label);
  return [...labels].sort(compareCodeUnits);
}

function filterSplit(items: DatasetItem[], split: Split, input: string, optionName: string): DatasetItem[] {
  const present = splitsOf(items);
  if (present.length === 0) {
    throw new UsageError(
      `${input} has no splits (no train/val/test folders or split column), so ${optionName} ${split} selects nothing; drop ${optionName}.`,
    );
  }
  const kept = items.filter((it) => it.split === split);
  if (kept.length === 0) {
    throw new UsageError(`${input} has no images in split ${split}; it has ${present.join(', ')}.`);
  }
  return kept;
}

export async function scanDataset(input: string, opts: ScanOptions = {}): Promise<Dataset> {
  const inputName = opts.inputName ?? param('data');
  nonEmptyString(inputName, input);
  const layout = oneOf(param('layout'), opts.layout ?? 'auto', LAYOUTS);
  let split: Split | undefined;
  if (opts.split !== undefined) {
    split = typeof opts.split === 'string' ? normalizeSplit(opts.split) : undefined;
    if (!split) throw invalid(param('split'), SPLIT_NAMES_TEXT, opts.split);
  }

  const resolved = path.resolve(input);
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(resolved);
  } catch {
    throw new UsageError(
      `${inputName} ${input} does not exist; point it at an image folder or a .csv/.jsonl manifest.`,
    );
  }

  const problems: ScanProblem[] = [];
  const notes: ScanProblem[] = [];
  let root: string;
  let kind: DatasetKind;
  let items: DatasetItem[];
  if (stat.isDirectory()) {
    root = resolved;
    const scan = await scanFolder(root, layout, problems);
    kind = scan.kind;
    items = scan.items.sort((a, b) => compareCodeUnits(a.relPath, b.relPath));
    if (!items.some((it) => looksLikeImage(it.path))) {
      throw new UsageError(
        `${input} contains no images (looked for ${IMAGE_EXTENSIONS.join(' ')} files in ${layout === 'auto' ? 'class folders or at its top level' : `the ${kind} layout`}).`,
      );
    }
  } else {
    const format = isManifestFile(resolved);
    if (!format)
      throw new UsageError(
        `${inputName} ${input} is a file but not a .csv or .jsonl manifest; point it at an image folder or a manifest.`,
      );
    if (layout !== 'auto')
      throw new UsageError(`The layout option applies to folders, but ${input} is a manifest; drop it.`);
    root = path.dirname(resolved);
    kind = 'manifest';
    const rows = await readManifest(resolved, format);
    items = rows.items;
    for (const p of rows.problems) problems.push(p); // no spread: a manifest may have millions of rows
    for (const n of rows.notes) notes.push(n);
    if (items.length === 0) {
      const first = rows.problems[0];
      throw new UsageError(
        first
          ? `The manifest ${input} lists no usable image: ${first.reason}.`
          : `The manifest ${input} lists no images; add one row per image below the header.`,
      );
    }
  }

  const classes = sortedClasses(items);
  if (kind !== 'manifest' && classes.length === 0) kind = 'unlabelled';
  if (split) items = filterSplit(items, split, input, param('split'));
  return { root, kind, classes, items, problems, notes };
}
