/**
 * Folder layouts. `root/<class>/...` (ImageFolder), `root/<split>/<class>/...` when every top-level folder is a
 * split name, and a folder with images at its top level = unlabelled (scanned recursively). Inside class folders
 * every visible regular file is an item, image-named or not: a stray PDF then shows up as one failure line in
 * extract instead of vanishing silently. Loose files next to class folders are not labelled: image-named ones are
 * reported as problems, others (README, labels.csv) are ignored.
 */
import * as path from 'path';
import { UsageError } from '../util/errors';
import { looksLikeImage, normalizeSplit, toPosix } from './names';
import type { DatasetItem, DatasetKind, LayoutOption, ScanProblem, Split } from './types';
import { DirEntryInfo, enterDir, listDir, rootAncestors, walkFiles, WalkState } from './walk';

export interface FolderScan {
  kind: Exclude<DatasetKind, 'manifest'>;
  items: DatasetItem[];
}

function item(root: string, file: string, label?: string, split?: Split): DatasetItem {
  const it: DatasetItem = { path: file, relPath: toPosix(path.relative(root, file)) };
  if (label !== undefined) it.label = label;
  if (split !== undefined) it.split = split;
  return it;
}

function reportLoose(files: DirEntryInfo[], problems: ScanProblem[], where: string): void {
  for (const f of files) {
    if (looksLikeImage(f.name))
      problems.push({ path: f.path, reason: `image outside any class folder of ${where}; not labelled, skipped` });
  }
}

/** Class folders of one directory: each subfolder is a class, its whole subtree its images. */
async function scanClasses(
  root: string,
  dirs: DirEntryInfo[],
  state: WalkState,
  ancestors: Set<string>,
  split?: Split,
): Promise<DatasetItem[]> {
  const items: DatasetItem[] = [];
  for (const dir of dirs) {
    const reported = state.problems.length;
    const files = await walkFiles(dir.path, state, ancestors);
    // A folder that could not be read was reported with its reason; "holds no files" would contradict it.
    const unreadable = state.problems.slice(reported).some((p) => p.path === dir.path);
    if (files.length === 0 && !unreadable)
      state.problems.push({ path: dir.path, reason: 'class folder holds no files; class skipped' });
    for (const f of files) items.push(item(root, f, dir.name, split));
  }
  return items;
}

function detectLayout(dirs: DirEntryInfo[], files: DirEntryInfo[], root: string): Exclude<LayoutOption, 'auto'> {
  const splitDirs = dirs.filter((d) => normalizeSplit(d.name) !== undefined);
  if (splitDirs.length > 0 && splitDirs.length === dirs.length) return 'imagefolder-splits';
  if (splitDirs.length > 0) {
    const others = dirs.filter((d) => normalizeSplit(d.name) === undefined).map((d) => d.name);
    throw new UsageError(
      `${root} mixes split folders (${splitDirs.map((d) => d.name).join(', ')}) with other folders (${others.slice(0, 5).join(', ')}); ` +
        'move the others out, or set the layout explicitly if these are class names.',
    );
  }
  if (files.some((f) => looksLikeImage(f.name))) return 'unlabelled';
  return 'imagefolder';
}

export async function scanFolder(root: string, layout: LayoutOption, problems: ScanProblem[]): Promise<FolderScan> {
  const state = new WalkState(problems);
  const ancestors = await rootAncestors(root, state);
  const top = await listDir(root, problems);
  if (top === undefined) throw new UsageError(`Cannot read the folder ${root}; check its permissions.`);
  const dirs = top.filter((e) => e.kind === 'dir');
  const files = top.filter((e) => e.kind === 'file');
  const chosen = layout === 'auto' ? detectLayout(dirs, files, root) : layout;

  if (chosen === 'unlabelled') {
    state.visited.clear(); // walkFiles re-enters the root itself
    const all = await walkFiles(root, state, new Set());
    return { kind: 'unlabelled', items: all.map((f) => item(root, f)) };
  }
  if (chosen === 'imagefolder') {
    reportLoose(files, problems, root);
    return { kind: 'imagefolder', items: await scanClasses(root, dirs, state, ancestors) };
  }

  reportLoose(files, problems, root);
  const items: DatasetItem[] = [];
  for (const splitDir of dirs) {
    const split = normalizeSplit(splitDir.name);
    if (!split) {
      problems.push({
        path: splitDir.path,
        reason: 'not a split folder (train, val, valid, validation, test); skipped',
      });
      continue;
    }
    const real = await enterDir(splitDir.path, state, ancestors);
    if (real === undefined) continue;
    ancestors.add(real);
    const inside = (await listDir(splitDir.path, problems)) ?? [];
    const classDirs = inside.filter((e) => e.kind === 'dir');
    const loose = inside.filter((e) => e.kind === 'file');
    if (classDirs.length === 0) {
      // Kaggle-style test/ folder of unlabelled images beside labelled train/ and val/.
      for (const f of loose) items.push(item(root, f.path, undefined, split));
    } else {
      reportLoose(loose, problems, splitDir.path);
      // A loop, not push(...list): a spread of a few hundred thousand items overflows the call stack.
      for (const item of await scanClasses(root, classDirs, state, ancestors, split)) items.push(item);
    }
    ancestors.delete(real);
  }
  return { kind: 'imagefolder-splits', items };
}
