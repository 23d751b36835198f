/**
 * Directory walking that follows symbolic links but cannot hang: every directory is identified by its real path,
 * a link back to an ancestor is reported as a loop, and a directory reached twice through different links is
 * reported once and scanned once (so no image is listed twice).
 */
import * as fs from 'fs';
import * as path from 'path';
import { compareCodeUnits, isHidden } from './names';
import type { ScanProblem } from './types';

export interface DirEntryInfo {
  name: string;
  path: string;
  kind: 'file' | 'dir';
}

/** Real paths of the directories already scanned, shared by every walk of one scan. */
export class WalkState {
  readonly visited = new Set<string>();
  constructor(readonly problems: ScanProblem[]) {}
}

function codeOf(e: unknown): string {
  return (e as NodeJS.ErrnoException)?.code ?? 'error';
}

function reasonFor(e: unknown, what: string): string {
  switch (codeOf(e)) {
    case 'ENOENT':
      return `broken symbolic link (${what} does not exist)`;
    case 'ELOOP':
      return 'symbolic link loop (the link points back to itself)';
    case 'EACCES':
    case 'EPERM':
      return `permission denied reading this ${what}`;
    default:
      return `cannot read this ${what} (${codeOf(e)})`;
  }
}

/**
 * Lists the visible entries of one directory, sorted, with symbolic links resolved to what they point at.
 * Entries that are neither files nor directories, and broken links, go to problems.
 */
export async function listDir(dir: string, problems: ScanProblem[]): Promise<DirEntryInfo[] | undefined> {
  let entries: fs.Dirent[];
  try {
    entries = await fs.promises.readdir(dir, { withFileTypes: true });
  } catch (e) {
    problems.push({ path: dir, reason: reasonFor(e, 'directory') });
    return undefined;
  }
  entries.sort((a, b) => compareCodeUnits(a.name, b.name));
  const out: DirEntryInfo[] = [];
  for (const entry of entries) {
    if (isHidden(entry.name)) continue;
    const full = path.join(dir, entry.name);
    let kind: DirEntryInfo['kind'] | undefined;
    if (entry.isDirectory()) kind = 'dir';
    else if (entry.isFile()) kind = 'file';
    else if (entry.isSymbolicLink()) {
      try {
        const st = await fs.promises.stat(full);
        kind = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : undefined;
      } catch (e) {
        problems.push({ path: full, reason: reasonFor(e, 'target') });
        continue;
      }
    }
    if (kind === undefined) {
      problems.push({ path: full, reason: 'not a regular file (socket, pipe or device); skipped' });
      continue;
    }
    out.push({ name: entry.name, path: full, kind });
  }
  return out;
}

/**
 * Marks a directory as entered. Returns false (and records why) when it is a loop or was already scanned.
 * `ancestors` holds the real paths of the directories on the current descent.
 */
export async function enterDir(dir: string, state: WalkState, ancestors: Set<string>): Promise<string | undefined> {
  let real: string;
  try {
    real = await fs.promises.realpath(dir);
  } catch (e) {
    state.problems.push({ path: dir, reason: reasonFor(e, 'directory') });
    return undefined;
  }
  if (ancestors.has(real)) {
    state.problems.push({
      path: dir,
      reason: 'symbolic link loop (this folder links back to a folder containing it); skipped',
    });
    return undefined;
  }
  if (state.visited.has(real)) {
    state.problems.push({ path: dir, reason: 'folder already scanned through another symbolic link; skipped' });
    return undefined;
  }
  state.visited.add(real);
  return real;
}

/** Every visible regular file under dir (recursively, links followed), in sorted order. */
export async function walkFiles(dir: string, state: WalkState, ancestors: Set<string> = new Set()): Promise<string[]> {
  const real = await enterDir(dir, state, ancestors);
  if (real === undefined) return [];
  ancestors.add(real);
  const files: string[] = [];
  const entries = (await listDir(dir, state.problems)) ?? [];
  for (const entry of entries) {
    if (entry.kind === 'file') files.push(entry.path);
    else for (const f of await walkFiles(entry.path, state, ancestors)) files.push(f); // no spread: huge trees
  }
  ancestors.delete(real);
  return files;
}

/** Registers a top-level directory (the dataset root) so that links back to it count as loops. */
export async function rootAncestors(root: string, state: WalkState): Promise<Set<string>> {
  const real = await fs.promises.realpath(root);
  state.visited.add(real);
  return new Set([real]);
}
