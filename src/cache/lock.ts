/**
 * One writer per cache: DIR/lock is created with O_EXCL and names its owner: pid, host, boot id and the process's
 * start time in the kernel's clock ticks (/proc/PID/stat), so a pid that was reused by an unrelated process (after
 * a reboot, in a restarted container, or just by wrap-around) is not mistaken for the owner. A second writer is
 * refused with a sentence. A lock whose owner is no longer alive on this host (SIGKILL, power loss) is taken over
 * with a warning; a live owner of another user (kill(pid, 0) says EPERM) is alive; a lock from another host cannot
 * be checked and is never taken over.
 * Readers (loadSplit, export) take no lock: the store's files are only ever replaced atomically or appended to.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { ConvfeatError } from '../util/errors';
import { isNoSpace, noSpaceError } from '../util/fsErrors';

export const LOCK_FILE = 'lock';

interface LockOwner {
  pid: number;
  host: string;
  started: string;
  /** /proc/sys/kernel/random/boot_id of the owner's boot (Linux). */
  boot?: string;
  /** Field 22 of /proc/PID/stat: the owner's start time in clock ticks since boot (Linux). */
  pstart?: number;
}

export type WarningSink = (message: string) => void;

export const stderrWarning: WarningSink = (message) => {
  process.stderr.write(`convfeat: warning: ${message}\n`);
};

function readOwner(file: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(fs.readFileSync(file, 'utf8')) as LockOwner;
    return typeof owner.pid === 'number' && typeof owner.host === 'string' ? owner : undefined;
  } catch {
    return undefined; // vanished, or half-written by a process killed between open and write
  }
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

export function bootId(): string | undefined {
  return readText('/proc/sys/kernel/random/boot_id')?.trim() || undefined;
}

/** A process's start time in clock ticks since boot, or undefined where /proc does not say (not Linux, gone). */
export function processStartTicks(pid: number): number | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // "pid (comm) state ppid …": comm may hold spaces and parentheses, so count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[19]); // field 22 overall
  return Number.isSafeInteger(ticks) ? ticks : undefined;
}

type Liveness = 'alive' | 'dead' | 'reused' | 'rebooted';

/** Whether the process a lock on this host names is still its owner. */
function ownerLiveness(owner: LockOwner): Liveness {
  const boot = bootId();
  if (owner.boot !== undefined && boot !== undefined && owner.boot !== boot) return 'rebooted';
  try {
    process.kill(owner.pid, 0);
  } catch (e) {
    // EPERM: the process exists but belongs to another user; only ESRCH means no such process.
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return 'dead';
  }
  if (owner.pstart !== undefined) {
    const now = processStartTicks(owner.pid);
    if (now !== undefined && now !== owner.pstart) return 'reused';
  }
  return 'alive';
}

function isNotAFile(file: string): boolean {
  const stat = fs.lstatSync(file, { throwIfNoEntry: false });
  return stat !== undefined && !stat.isFile();
}

function notAFile(file: string): ConvfeatError {
  const kind = fs.statSync(file, { throwIfNoEntry: false })?.isDirectory() ? 'a folder' : 'not a regular file';
  return new ConvfeatError(
    `The cache lock ${file} is ${kind}, not a convfeat lock file; move or remove it, then run again.`,
  );
}

/** Lock files this process holds: a lock naming our own pid that is not here was left by an earlier process
 * that had the same pid (a restarted container), so it is stale. */
const held = new Set<string>();

export class CacheLock {
  private released = false;
  private readonly onExit = (): void => this.release();

  private constructor(
    readonly file: string,
    private readonly token: string,
  ) {
    held.add(file);
    process.on('exit', this.onExit);
  }

  /** Takes DIR/lock or throws a ConvfeatError saying who holds it. */
  static acquire(dir: string, warn: WarningSink = stderrWarning): CacheLock {
    const file = path.join(dir, LOCK_FILE);
    const owner: LockOwner = { pid: process.pid, host: os.hostname(), started: new Date().toISOString() };
    const boot = bootId();
    const pstart = processStartTicks(process.pid);
    if (boot !== undefined) owner.boot = boot;
    if (pstart !== undefined) owner.pstart = pstart;
    const token = JSON.stringify(owner);
    // Not something convfeat writes: never break it as a stale lock (that would move a user's folder aside).
    if (isNotAFile(file)) throw notAFile(file);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644);
        try {
          fs.writeSync(fd, token);
          fs.fsyncSync(fd);
        } catch (e) {
          fs.closeSync(fd);
          fs.rmSync(file, { force: true }); // an empty lock (full disk) would block the next run for no one
          if (isNoSpace(e)) throw noSpaceError(file, e);
          throw e;
        }
        fs.closeSync(fd);
        return new CacheLock(file, token);
      } catch (e) {
        if (e instanceof ConvfeatError) throw e;
        if ((e as NodeJS.ErrnoException).code === 'EISDIR' || isNotAFile(file)) throw notAFile(file);
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
          if (isNoSpace(e)) throw noSpaceError(file, e);
          throw new ConvfeatError(
            `Cannot create ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'}); check that the cache directory is writable.`,
          );
        }
      }
      if (isNotAFile(file)) throw notAFile(file);
      const holder = readOwner(file);
      const ours = holder !== undefined && holder.pid === process.pid && holder.host === owner.host;
      if (ours && held.has(file)) {
        throw new ConvfeatError(
          `This process already has the cache ${dir} open for writing; close it before opening it again.`,
        );
      }
      const liveness = holder && !ours && holder.host === owner.host ? ownerLiveness(holder) : 'dead';
      if (holder && !ours && (holder.host !== owner.host || liveness === 'alive')) {
        const where = holder.host === owner.host ? '' : ` on host ${holder.host}`;
        throw new ConvfeatError(
          `Another convfeat process (pid ${holder.pid}${where}) is writing to this cache; wait for it or remove ${file} if it is dead.`,
        );
      }
      if (!holder) {
        // Unreadable: either being written this instant or left empty by a crash. Only an old one is stale.
        const age = Date.now() - (fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0);
        if (age < 10_000) {
          throw new ConvfeatError(
            `Another convfeat process is starting to write to this cache; wait for it or remove ${file} if it is dead.`,
          );
        }
      }
      CacheLock.breakStale(file, holder);
      const gone = ours
        ? 'an earlier process with this pid (a restarted container?)'
        : liveness === 'reused'
          ? `pid ${holder!.pid}, which now belongs to another process (its owner is gone and the pid was reused)`
          : liveness === 'rebooted'
            ? `pid ${holder!.pid} of an earlier boot of this machine`
            : `pid ${holder?.pid ?? 'unknown'}, which is no longer running`;
      warn(
        `took over the lock of the cache ${dir} from ${gone}; it was killed or crashed, and its last batch may be lost.`,
      );
    }
    throw new ConvfeatError(
      `Could not take the lock ${file}; another process keeps recreating it. Retry, or remove it if no convfeat is running.`,
    );
  }

  /**
   * Moves the stale lock aside instead of deleting it, then checks that what moved is the stale one: if another
   * process took the lock over in between, its lock is put back.
   */
  private static breakStale(file: string, stale: LockOwner | undefined): void {
    const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      fs.renameSync(file, aside);
    } catch {
      return; // someone else removed it first; just retry the exclusive create
    }
    const moved = readOwner(aside);
    const same =
      stale === undefined
        ? moved === undefined
        : moved !== undefined && moved.pid === stale.pid && moved.started === stale.started;
    if (!same) {
      try {
        fs.linkSync(aside, file);
      } catch {
        // a third process holds the lock now; our retry will see it and refuse
      }
    }
    fs.rmSync(aside, { force: true });
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    held.delete(this.file);
    process.removeListener('exit', this.onExit);
    try {
      if (fs.readFileSync(this.file, 'utf8') === this.token) fs.unlinkSync(this.file);
    } catch {
      // already gone: nothing to release
    }
  }
}
