import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CacheLock } from '../../src/cache/lock';
import { EmbeddingStore } from '../../src/cache/store';
import { tmpDir } from '../support/data';
import { IDENTITY } from './support/rows';

function writeLock(dir: string, owner: object): void {
  fs.writeFileSync(path.join(dir, 'lock'), JSON.stringify(owner));
}

/** The pid of a process that has exited (and was reaped), so it is certainly not alive now. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

describe('cache lock', () => {
  test('a second writer in this process is refused; the lock is released on close', () => {
    const dir = tmpDir('lock-self');
    const store = EmbeddingStore.open(dir, { mode: 'write', identity: IDENTITY });
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'lock'), 'utf8'))).toMatchObject({
      pid: process.pid,
      host: os.hostname(),
    });
    expect(() => EmbeddingStore.open(dir, { mode: 'write', identity: IDENTITY })).toThrow(
      /already has the cache .* open for writing/,
    );
    expect(EmbeddingStore.open(dir).size).toBe(0); // readers take no lock
    store.close();
    expect(fs.existsSync(path.join(dir, 'lock'))).toBe(false);
    EmbeddingStore.open(dir, { mode: 'write', identity: IDENTITY }).close();
  });

  test('a lock held by a live process is refused with a sentence naming its pid', async () => {
    const dir = tmpDir('lock-live');
    const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      writeLock(dir, { pid: holder.pid, host: os.hostname(), started: new Date().toISOString() });
      expect(() => EmbeddingStore.open(dir, { mode: 'write', identity: IDENTITY })).toThrow(
        `Another convfeat process (pid ${holder.pid}) is writing to this cache; wait for it or remove ${path.join(dir, 'lock')} if it is dead.`,
      );
      expect(JSON.parse(fs.readFileSync(path.join(dir, 'lock'), 'utf8')).pid).toBe(holder.pid);
    } finally {
      holder.kill('SIGKILL');
      await new Promise((resolve) => holder.once('exit', resolve));
    }
  });

  test('a stale lock (its process is dead) is taken over with a warning', () => {
    const dir = tmpDir('lock-stale');
    const pid = deadPid();
    writeLock(dir, { pid, host: os.hostname(), started: '2020-01-01T00:00:00.000Z' });
    const warnings: string[] = [];
    const store = EmbeddingStore.open(dir, { mode: 'write', identity: IDENTITY, warn: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      new RegExp(`took over the lock of the cache .* from pid ${pid}, which is no longer running`),
    );
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'lock'), 'utf8')).pid).toBe(process.pid);
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('lock'))).toEqual(['lock']);
    store.close();
  });

  test('a lock naming our own pid that this process does not hold is stale (a restarted container reuses pids)', () => {
    const dir = tmpDir('lock-samepid');
    writeLock(dir, { pid: process.pid, host: os.hostname(), started: '2020-01-01T00:00:00.000Z' });
    const warnings: string[] = [];
    const lock = CacheLock.acquire(dir, (m) => warnings.push(m));
    expect(warnings[0]).toMatch(/from an earlier process with this pid/);
    expect(() => CacheLock.acquire(dir)).toThrow(/already has the cache/);
    lock.release();
  });

  test('a lock from another host is never taken over; an empty old lock file is', () => {
    const dir = tmpDir('lock-host');
    writeLock(dir, { pid: deadPid(), host: 'some-other-host', started: new Date().toISOString() });
    expect(() => CacheLock.acquire(dir)).toThrow(
      /Another convfeat process \(pid \d+ on host some-other-host\) is writing to this cache/,
    );

    const dir2 = tmpDir('lock-empty');
    fs.writeFileSync(path.join(dir2, 'lock'), '');
    expect(() => CacheLock.acquire(dir2, () => undefined)).toThrow(/starting to write to this cache/); // fresh: maybe mid-write
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(path.join(dir2, 'lock'), old, old);
    const warnings: string[] = [];
    const lock = CacheLock.acquire(dir2, (m) => warnings.push(m));
    expect(warnings[0]).toMatch(/from pid unknown/);
    lock.release();
    expect(fs.existsSync(path.join(dir2, 'lock'))).toBe(false);
  });

  test('release leaves alone a lock that is no longer ours', () => {
    const dir = tmpDir('lock-foreign');
    const lock = CacheLock.acquire(dir);
    writeLock(dir, { pid: 1, host: os.hostname(), started: 'later' });
    lock.release();
    expect(fs.existsSync(path.join(dir, 'lock'))).toBe(true);
  });
});
