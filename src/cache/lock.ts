/**
 * One writer per cache: DIR/lock is created with O_EXCL and names its owner (pid, host, start time). A second
 * writer is refused with a sentence. A lock left by a process that is no longer alive on this host (SIGKILL, power
 * loss) is taken over with a warning; a lock from another host cannot be checked and is never taken over.
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

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
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
    const token = JSON.stringify(owner);
    if (fs.statSync(file, { throwIfNoEntry: false })?.isDirectory()) {
      // Not something convfeat writes: never break it as a stale lock (that would move a user's folder aside).
      throw new ConvfeatError(`${file} is a folder, not a convfeat lock file; move or remove it, then run again.`);
    }
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
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
          if (isNoSpace(e)) throw noSpaceError(file, e);
          throw new ConvfeatError(
            `Cannot create ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'}); check that the cache directory is writable.`,
          );
        }
      }
      const holder = readOwner(file);
      const ours = holder !== undefined && holder.pid === process.pid && holder.host === owner.host;
      if (ours && held.has(file)) {
        throw new ConvfeatError(
          `This process already has the cache ${dir} open for writing; close it before opening it again.`,
        );
      }
      if (holder && !ours && (holder.host !== owner.host || isAlive(holder.pid))) {
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
