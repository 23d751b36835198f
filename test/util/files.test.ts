/**
 * The file layer every output goes through: a full disk is an error that keeps the old file (never a short file
 * renamed into place), folders are created without Node's /proc trap, temp files of dead runs are removed (and
 * those of live ones kept), a folder swap interrupted between its renames is put back.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic, writeFileAtomicSync, tempSibling, removeDeadTemps } from '../../src/util/atomic';
import { ensureDir } from '../../src/util/dirs';
import { ConvfeatError } from '../../src/util/errors';
import { ownerAlive, ownerTag, processStartTime } from '../../src/util/owner';
import { recoverInterruptedSwap, stageDir, swapIntoPlace } from '../../src/util/swapDir';
import { tmpDir } from '../support/data';
import { canMount, fillLeaving, mountTmpfs, type Mounted } from '../support/tmpfs';

/** A pid that ran and exited: nobody owns it now (pids are not reused this fast on a quiet machine). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('writeFileAtomicSync on a full disk', () => {
  // Mounted in beforeAll, not at collection: a run that filters these tests out (-t) must not leave a mount.
  let m: Mounted = { skip: 'not mounted' };
  beforeAll(() => {
    m = mountTmpfs(512);
  });
  afterAll(() => {
    if ('unmount' in m) m.unmount();
  });

  test('a write that does not fit fails with one sentence and leaves the previous file byte for byte', async () => {
    if (!canMount(m, 'full-disk write test')) return;
    const file = path.join(m.dir, 'clf.json');
    const previous = Buffer.from('{"previous":true}\n');
    writeFileAtomicSync(file, previous);
    fillLeaving(m.dir, 16 * 1024);
    // 200 KB into 16 KB: the first writeSync is short (the bug: it was fsynced and renamed as if complete).
    const big = Buffer.alloc(200_000, 0x41);
    let thrown: unknown;
    try {
      writeFileAtomicSync(file, big);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(ConvfeatError);
    expect((thrown as Error).message).toBe(
      `No space left on ${m.dir} while writing ${file}; the previous clf.json is untouched. Free some space or choose another location, then run again.`,
    );
    expect(fs.readFileSync(file)).toEqual(previous);
    expect(fs.readdirSync(m.dir).sort()).toEqual(['.filler', 'clf.json']);
    // The async writer too (report pictures, downloads).
    await expect(writeFileAtomic(file, big)).rejects.toThrow(
      /^No space left on .* the previous clf\.json is untouched/,
    );
    expect(fs.readFileSync(file)).toEqual(previous);
    expect(fs.readdirSync(m.dir).sort()).toEqual(['.filler', 'clf.json']);
  });
});

describe('ensureDir', () => {
  test('creates missing levels and accepts an existing folder', () => {
    const root = tmpDir('dirs');
    const deep = path.join(root, 'a', 'b', 'c');
    expect(ensureDir(deep)).toBe(deep);
    expect(fs.statSync(deep).isDirectory()).toBe(true);
    expect(ensureDir(deep)).toBe(deep);
  });

  test('a file in the way, /proc, and a read-only filesystem are one sentence each', () => {
    const root = tmpDir('dirs');
    const file = path.join(root, 'f');
    fs.writeFileSync(file, 'x');
    expect(() => ensureDir(file, '--cache')).toThrow(
      new ConvfeatError(`--cache ${file} is a file, not a folder; choose a folder path (or move the file away).`),
    );
    expect(() => ensureDir(path.join(file, 'sub'), '--cache')).toThrow(/^Cannot create --cache .*: .*\/f is a file/);
    if (fs.existsSync('/proc/self')) {
      // Node 20's recursive mkdir loops forever here; the walk fails at once.
      const t = Date.now();
      expect(() => ensureDir('/proc/x/y', '--cache')).toThrow(
        'Cannot create --cache /proc/x/y: /proc does not accept new folders (a system or virtual filesystem); choose another location.',
      );
      expect(Date.now() - t).toBeLessThan(1000);
    }
    const ro = mountTmpfs(64, { readOnly: true });
    if (canMount(ro, 'read-only folder test')) {
      try {
        expect(() => ensureDir(path.join(ro.dir, 'cache'), '--cache')).toThrow(
          /^Permission denied writing .*cache \(EROFS\); choose a location you can write to/,
        );
      } finally {
        ro.unmount();
      }
    }
  });
});

describe('temp files of dead runs', () => {
  test('temp names carry pid and start time; only dead owners are removed', () => {
    const dir = tmpDir('temps');
    const target = path.join(dir, 'model.onnx');
    const start = processStartTime(process.pid);
    expect(ownerTag()).toBe(`${process.pid}-${start ?? '0'}`);
    const mine = tempSibling(target);
    expect(path.basename(mine)).toMatch(new RegExp(`^\\.model\\.onnx\\.tmp-${process.pid}-${start}-[0-9a-f]{8}$`));
    const dead = deadPid();
    const names = {
      mine: path.basename(mine),
      dead: `.model.onnx.tmp-${dead}-12345-0123abcd`,
      deadLegacy: `.model.onnx.tmp-${dead}-89abcdef`,
      // pid 1 is alive but started at another time: a reused pid, so the temp is dead
      reused: `.model.onnx.tmp-1-999999999999-aaaaaaaa`,
      deadFolder: `.model.onnx.tmp-${dead}-12345-bbbbbbbb-old`,
      otherTarget: `.other.onnx.tmp-${dead}-12345-0123abcd`,
      user: 'model.onnx.tmp-notours',
    };
    for (const [k, n] of Object.entries(names)) {
      if (k === 'deadFolder') fs.mkdirSync(path.join(dir, n));
      else fs.writeFileSync(path.join(dir, n), 'x');
    }
    expect(ownerAlive(process.pid, start)).toBe(true);
    expect(ownerAlive(dead, '12345')).toBe(false);
    const removed = removeDeadTemps(target).sort();
    const expected = [names.dead, names.deadLegacy, names.deadFolder];
    if (processStartTime(1) !== undefined) expected.push(names.reused);
    expect(removed).toEqual(expected.sort());
    const left = fs.readdirSync(dir);
    expect(left).toEqual(expect.arrayContaining([names.mine, names.otherTarget, names.user]));
    for (const n of expected) expect(left).not.toContain(n);
  });
});

describe('swapping a folder into place', () => {
  test('a kill between the two renames loses no report: the next run puts the old one back', () => {
    const parent = tmpDir('swap');
    const target = path.join(parent, 'report');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'report.json'), 'old');
    // What a SIGKILL between "old steps aside" and "new takes its name" leaves: the old folder under its hidden name.
    const dead = deadPid();
    fs.renameSync(target, path.join(parent, `.report.tmp-${dead}-777-cafebabe-old`));
    fs.mkdirSync(path.join(parent, `.report.tmp-${dead}-777-cafebabe`)); // the staged folder it was about to move
    expect(recoverInterruptedSwap(target)).toBe(true);
    expect(fs.readFileSync(path.join(target, 'report.json'), 'utf8')).toBe('old');
    const staging = stageDir(target);
    expect(fs.readdirSync(parent).sort()).toEqual(['report', path.basename(staging)].sort());
    fs.writeFileSync(path.join(staging, 'report.json'), 'new');
    swapIntoPlace(staging, target);
    expect(fs.readFileSync(path.join(target, 'report.json'), 'utf8')).toBe('new');
    expect(fs.readdirSync(parent)).toEqual(['report']);
  });

  test('the staged folder gets the umask, not mkdtemp 0700', () => {
    const parent = tmpDir('swap');
    const old = process.umask(0o022);
    try {
      const staging = stageDir(path.join(parent, 'report'));
      expect(fs.statSync(staging).mode & 0o777).toBe(0o755);
    } finally {
      process.umask(old);
    }
  });
});
