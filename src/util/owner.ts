/**
 * Who wrote a temporary file, and is it still running? Temp names carry the writer's pid and its start time (clock
 * ticks since boot, from /proc/PID/stat), so a later run removes only what a dead run left: a live process with a
 * reused pid has another start time. Where /proc is missing, the start time is "0" and only the pid is checked.
 */
import * as fs from 'fs';
import * as path from 'path';

/** Start time of `pid` in clock ticks since boot (Linux), or undefined when it is not running or unknown. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19]; // field 22 overall
  } catch {
    return undefined;
  }
}

let ownTag: string | undefined;

/** "PID-START" for this process: the part of a temp name that identifies its owner. */
export function ownerTag(): string {
  return (ownTag ??= `${process.pid}-${processStartTime(process.pid) ?? '0'}`);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the process that wrote a temp file tagged `pid` and `start` ("0" or undefined: unknown) still runs. */
export function ownerAlive(pid: number, start: string | undefined): boolean {
  if (pid === process.pid) return start === undefined || start === '0' || ownerTag() === `${pid}-${start}`;
  if (!pidAlive(pid)) return false;
  if (start === undefined || start === '0') return true;
  const now = processStartTime(pid);
  return now === undefined || now === start;
}

/** Escapes a file name for use inside a RegExp. */
function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Removes temporary siblings of `target` (`.NAME.tmp-PID-START-RANDOM`, a folder or a file, with any `-old` suffix,
 * and the older `.NAME.tmp-PID-RANDOM` form) whose writer is dead. Returns the names removed. Never throws: cleaning
 * is a courtesy, not part of the job.
 */
export function removeDeadTemps(target: string): string[] {
  const dir = path.dirname(path.resolve(target));
  const base = path.basename(target);
  const pattern = new RegExp(`^\\.${escapeRegExp(base)}\\.tmp-(\\d+)-(?:(\\d+)-)?[0-9a-f]{8}(?:-old)?$`);
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = pattern.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (ownerAlive(pid, m[2])) continue;
    try {
      fs.rmSync(path.join(dir, name), { recursive: true, force: true });
      removed.push(name);
    } catch {
      // not ours to remove after all (permissions): leave it
    }
  }
  return removed;
}

/**
 * Removes folders `PREFIX<pid>-<start>-XXXXXX` in `parent` (made by `mkdtempSync(PREFIX + ownerTag() + '-')`) whose
 * owner is dead: temporary caches a killed run could not remove from its exit hook.
 */
export function removeDeadTempDirs(parent: string, prefix: string): string[] {
  const pattern = new RegExp(`^${escapeRegExp(prefix)}(\\d+)-(\\d+)-[A-Za-z0-9]{6}$`);
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = pattern.exec(name);
    if (!m || ownerAlive(Number(m[1]), m[2])) continue;
    try {
      fs.rmSync(path.join(parent, name), { recursive: true, force: true });
      removed.push(name);
    } catch {
      // someone else's, not removable by us: leave it
    }
  }
  return removed;
}
