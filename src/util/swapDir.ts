/**
 * Replacing a whole folder (a report) as one step: the new contents are staged in a hidden sibling, then the old
 * folder steps aside and the new one takes its name. The two renames are synchronous, so SIGINT/SIGTERM handlers
 * cannot run between them; only a SIGKILL or power loss can, and then the old folder is under its hidden `-old`
 * name: the next run of any command that stages into the same place puts it back first. Folders a dead run staged
 * are removed; the staging folder gets the user's umask (mkdtemp would make it 0700).
 */
import { param } from './params';
import * as fs from 'fs';
import * as path from 'path';
import { tempSibling } from './atomic';
import { ensureParentDir } from './dirs';
import { ownerAlive, removeDeadTemps } from './owner';
import { ConvfeatError } from './errors';
import { isNoSpace, noSpaceError } from './fsErrors';

const OLD_SUFFIX = '-old';

/** Puts back the folder a killed swap left aside, when `target` is missing. Returns whether it did. */
export function recoverInterruptedSwap(target: string): boolean {
  const abs = path.resolve(target);
  if (fs.existsSync(abs)) return false;
  const dir = path.dirname(abs);
  const base = path.basename(abs);
  const pattern = new RegExp(
    `^\\.${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.tmp-(\\d+)-(?:(\\d+)-)?[0-9a-f]{8}${OLD_SUFFIX}$`,
  );
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return false;
  }
  const candidates = names
    .map((name) => ({ name, m: pattern.exec(name) }))
    .filter((c) => c.m && !ownerAlive(Number(c.m[1]), c.m[2]))
    .map((c) => ({ file: path.join(dir, c.name), mtime: fs.statSync(path.join(dir, c.name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const c of candidates) {
    try {
      fs.renameSync(c.file, abs);
      return true;
    } catch {
      // another run restored it first, or it cannot move: try the next
    }
  }
  return false;
}

/** Creates the hidden staging folder beside `target` after restoring and cleaning what dead runs left. */
export function stageDir(target: string): string {
  const abs = path.resolve(target);
  ensureParentDir(abs);
  recoverInterruptedSwap(abs);
  removeDeadTemps(abs);
  const staging = tempSibling(abs);
  fs.mkdirSync(staging); // default mode 0o777 minus the umask
  return staging;
}

/** Moves the finished `staging` folder to `target`, replacing the folder there (if any) as described above. */
export function swapIntoPlace(staging: string, target: string): void {
  const abs = path.resolve(target);
  const old = fs.existsSync(abs) ? `${staging}${OLD_SUFFIX}` : null;
  if (old) fs.renameSync(abs, old);
  try {
    fs.renameSync(staging, abs);
  } catch (e) {
    if (old) fs.renameSync(old, abs);
    throw e;
  }
  if (old) fs.rmSync(old, { recursive: true, force: true });
}

/** What a replaceable output folder is: its noun in messages and the JSON file that marks it as convfeat's. */
export interface OutputFolderKind {
  noun: string;
  marker: string;
  format: string;
}

/** One sentence for a folder that cannot be written (full disk, permissions, a file in the way). */
export function cannotWriteFolder(dir: string, e: unknown, kind: OutputFolderKind): ConvfeatError {
  if (e instanceof ConvfeatError) return e;
  if (isNoSpace(e)) return noSpaceError(dir, e);
  const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  return new ConvfeatError(
    `Cannot write the ${kind.noun} to ${dir} (${code}); choose a directory you can write to with ${param('reportDir')}.`,
  );
}

/** Refuses to replace a folder that is neither empty nor an earlier output of this kind; returns whether it exists. */
export function checkReplaceableFolder(dir: string, kind: OutputFolderKind): boolean {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw cannotWriteFolder(dir, e, kind);
  }
  if (!stat.isDirectory())
    throw new ConvfeatError(`${dir} exists and is not a directory; choose another ${param('reportDir')} directory.`);
  if (fs.readdirSync(dir).length === 0) return true;
  try {
    const json = JSON.parse(fs.readFileSync(path.join(dir, kind.marker), 'utf8')) as { format?: string };
    if (json.format === kind.format) return true;
  } catch {
    // not one of ours: refused below
  }
  throw new ConvfeatError(
    `${dir} already holds other files and is not a convfeat ${kind.noun}; choose an empty or new ${param('reportDir')} directory.`,
  );
}

const WRITE_FAILURES = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'ENOSPC', 'EDQUOT']);

/**
 * Writes a whole output folder as one step: checks the target, stages the files `build` returns (the marker file
 * last), swaps the folder into place. A failed run leaves the previous folder as it was; filesystem failures are one
 * sentence, anything else stays a bug.
 */
export async function writeOutputFolder(
  dir: string,
  kind: OutputFolderKind,
  build: () => Promise<Record<string, string | Uint8Array>>,
): Promise<{ dir: string; files: string[] }> {
  const target = path.resolve(dir);
  recoverInterruptedSwap(target); // a folder a killed run left aside is put back before it is checked
  checkReplaceableFolder(target, kind);
  let staging: string;
  try {
    staging = stageDir(target);
  } catch (e) {
    throw cannotWriteFolder(dir, e, kind);
  }
  try {
    const files = await build();
    for (const [name, data] of Object.entries(files)) fs.writeFileSync(path.join(staging, name), data);
    swapIntoPlace(staging, target);
    return { dir: target, files: Object.keys(files).map((f) => path.join(target, f)) };
  } catch (e) {
    fs.rmSync(staging, { recursive: true, force: true });
    if (e instanceof ConvfeatError) throw e;
    if (WRITE_FAILURES.has((e as NodeJS.ErrnoException).code ?? '') || isNoSpace(e))
      throw cannotWriteFolder(dir, e, kind);
    throw e;
  }
}
