/**
 * Directory walking that follows symbolic links but cannot hang: every directory is identified by its real path,
 * a link back to an ancestor is reported as a loop, and a directory reached twice through different links is
 * reported once and scanned once (so no image is listed twice).
 */
import * as fs from 'fs';
import * as path from 'path';
import { compareCodeUnits, decodeName, isHidden } from './names';
import type { ScanProblem } from './types';

export interface DirEntryInfo {
  /** The name as text; bytes that are not UTF-8 appear as \xNN (see names.decodeName). */
  name: string;
  path: string;
  /** The path's bytes, when a name on the way is not valid UTF-8: what the file system must be given. */
  raw?: Buffer;
  kind: 'file' | 'dir';
}

/** A file found by a walk: its readable path, and its bytes when they differ from that text. */
export interface FoundFile {
  path: string;
  raw?: Buffer;
}

/** The path to hand to fs: the raw bytes when the name is not UTF-8. */
function fsPath(p: string, raw: Buffer | undefined): string | Buffer {
  return raw ?? p;
}

/** A key for a real path that keeps every byte (the visited and ancestor sets). */
async function realKey(p: string, raw: Buffer | undefined): Promise<string> {
  return (await fs.promises.realpath(fsPath(p, raw), { encoding: 'buffer' })).toString('latin1');
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
export async function listDir(
  dir: string,
  problems: ScanProblem[],
  dirRaw?: Buffer,
): Promise<DirEntryInfo[] | undefined> {
  let listed: Array<{ entry: fs.Dirent; rawName: Buffer; name: string; valid: boolean }>;
  try {
    // Names as bytes: a name that is not UTF-8 would otherwise come back with U+FFFD and could never be opened.
    const entries = (await fs.promises.readdir(fsPath(dir, dirRaw), {
      withFileTypes: true,
      encoding: 'buffer',
    })) as unknown as fs.Dirent[];
    listed = entries.map((entry) => {
      const rawName = entry.name as unknown as Buffer;
      const { text, valid } = decodeName(rawName);
      return { entry, rawName, name: text, valid };
    });
  } catch (e) {
    problems.push({ path: dir, reason: reasonFor(e, 'directory') });
    return undefined;
  }
  listed.sort((a, b) => compareCodeUnits(a.name, b.name));
  const out: DirEntryInfo[] = [];
  for (const { entry, rawName, name, valid } of listed) {
    if (isHidden(name)) continue;
    const full = path.join(dir, name);
    const raw =
      dirRaw || !valid ? Buffer.concat([dirRaw ?? Buffer.from(dir), Buffer.from(path.sep), rawName]) : undefined;
    let kind: DirEntryInfo['kind'] | undefined;
    if (entry.isDirectory()) kind = 'dir';
    else if (entry.isFile()) kind = 'file';
    else if (entry.isSymbolicLink()) {
      try {
        const st = await fs.promises.stat(fsPath(full, raw));
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
    out.push({ name, path: full, ...(raw ? { raw } : {}), kind });
  }
  return out;
}

/**
 * Marks a directory as entered. Returns false (and records why) when it is a loop or was already scanned.
 * `ancestors` holds the real paths of the directories on the current descent.
 */
export async function enterDir(
  dir: string,
  state: WalkState,
  ancestors: Set<string>,
  raw?: Buffer,
): Promise<string | undefined> {
  let real: string;
  try {
    real = await realKey(dir, raw);
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
export async function walkFiles(
  dir: string,
  state: WalkState,
  ancestors: Set<string> = new Set(),
  raw?: Buffer,
): Promise<FoundFile[]> {
  const real = await enterDir(dir, state, ancestors, raw);
  if (real === undefined) return [];
  ancestors.add(real);
  const files: FoundFile[] = [];
  const entries = (await listDir(dir, state.problems, raw)) ?? [];
  for (const entry of entries) {
    if (entry.kind === 'file') files.push(entry.raw ? { path: entry.path, raw: entry.raw } : { path: entry.path });
    else for (const f of await walkFiles(entry.path, state, ancestors, entry.raw)) files.push(f); // no spread: huge trees
  }
  ancestors.delete(real);
  return files;
}

/** Registers a top-level directory (the dataset root) so that links back to it count as loops. */
export async function rootAncestors(root: string, state: WalkState): Promise<Set<string>> {
  const real = await realKey(root, undefined);
  state.visited.add(real);
  return new Set([real]);
}
