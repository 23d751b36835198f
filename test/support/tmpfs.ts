/**
 * Small filesystems for fault tests: a tmpfs of a few hundred KiB that a test fills to the byte (a full disk), or
 * mounts read-only (a folder nobody may write, which root cannot be refused otherwise). Mounting needs root and a
 * kernel that allows it (containers may not): `mountTmpfs` returns a reason to skip instead of failing.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { tmpDir } from './data';

export type Mounted = { dir: string; unmount: () => void } | { skip: string };

export function mountTmpfs(sizeKiB: number, opts: { readOnly?: boolean } = {}): Mounted {
  if (process.platform !== 'linux') return { skip: 'tmpfs mounts need Linux' };
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    return { skip: 'mounting a small tmpfs needs root (run the tests as root to cover full and read-only disks)' };
  const dir = tmpDir('tmpfs');
  const options = `size=${sizeKiB}k,mode=0777${opts.readOnly ? ',ro' : ''}`;
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) return { skip: `cannot mount a tmpfs here (${(r.stderr || r.error?.message || '').trim()})` };
  return {
    dir,
    unmount: () => {
      spawnSync('umount', ['-l', dir]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Fills the filesystem of `dir` so that only about `leaveBytes` stay free (tmpfs allocates 4 KiB pages). */
export function fillLeaving(dir: string, leaveBytes: number): string {
  const filler = path.join(dir, '.filler');
  const fd = fs.openSync(filler, 'w');
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    fs.closeSync(fd);
  }
  const size = fs.statSync(filler).size;
  fs.truncateSync(filler, Math.max(0, size - leaveBytes));
  return filler;
}

/** Prints why a test that needs a mount does not run, and returns whether it may run. */
export function canMount(m: Mounted, what: string): m is { dir: string; unmount: () => void } {
  if ('skip' in m) {
    process.stdout.write(`skipped ${what}: ${m.skip}\n`);
    return false;
  }
  return true;
}
