/**
 * Replacing a whole folder (a report) as one step: the new contents are staged in a hidden sibling, then the old
 * folder steps aside and the new one takes its name. The two renames are synchronous, so SIGINT/SIGTERM handlers
 * cannot run between them; only a SIGKILL or power loss can, and then the old folder is under its hidden `-old`
 * name: the next run of any command that stages into the same place puts it back first. Folders a dead run staged
 * are removed; the staging folder gets the user's umask (mkdtemp would make it 0700).
 */
import * as fs from 'fs';
import * as path from 'path';
import { tempSibling } from './atomic';
import { ensureParentDir } from './dirs';
import { ownerAlive, removeDeadTemps } from './owner';

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
