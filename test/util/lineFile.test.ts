/**
 * util/lineFile: lines reach the target only on commit; an abort or a failure at any step (a full disk in the middle
 * of the lines, at fsync, or a rename refused) leaves the previous file byte for byte and no temporary behind.
 */
import * as fs from 'fs';
import realFs = require('fs');
import * as path from 'path';
import { LineFile } from '../../src/util/lineFile';
import { removeDeadTemps } from '../../src/util/atomic';
import { ConvfeatError } from '../../src/util/errors';
import { tmpDir } from '../support/data';
import { canMount, fillLeaving, mountTmpfs } from '../support/tmpfs';

let dir: string;
beforeEach(() => {
  dir = tmpDir('linefile');
});
afterEach(() => {
  jest.restoreAllMocks();
  fs.rmSync(dir, { recursive: true, force: true });
});

const leftovers = (): string[] => fs.readdirSync(dir).filter((n) => n.includes('.tmp-'));

function enospc(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
}

test('lines go to an owner-named temp and appear whole on commit; many lines stream in several writes', () => {
  const target = path.join(dir, 'rows.jsonl');
  fs.writeFileSync(target, 'old\n');
  const file = new LineFile(target);
  expect(path.basename(file.tempPath)).toMatch(new RegExp(`^\\.rows\\.jsonl\\.tmp-${process.pid}-\\d+-[0-9a-f]{8}$`));
  // A live owner's temp is not removed by the cleaner other runs call.
  expect(removeDeadTemps(target)).toEqual([]);
  const writes = jest.spyOn(realFs, 'writeSync');
  const n = 20_000;
  for (let i = 0; i < n; i++) file.add({ i, text: `row ${i} ü` });
  expect(fs.readFileSync(target, 'utf8')).toBe('old\n');
  file.commit();
  expect(writes.mock.calls.length).toBeGreaterThan(1);
  const lines = fs.readFileSync(target, 'utf8').split('\n');
  expect(lines).toHaveLength(n + 1);
  expect(JSON.parse(lines[n - 1]!)).toEqual({ i: n - 1, text: `row ${n - 1} ü` });
  expect(leftovers()).toEqual([]);
});

test('abort keeps the previous file and removes the temp', () => {
  const target = path.join(dir, 'rows.csv');
  fs.writeFileSync(target, 'previous\n');
  const file = new LineFile(target);
  file.write('a,b\n');
  file.abort();
  file.abort();
  expect(fs.readFileSync(target, 'utf8')).toBe('previous\n');
  expect(leftovers()).toEqual([]);
});

test('a full disk in the middle of the lines: one sentence naming the target, previous file untouched, no temp', () => {
  const target = path.join(dir, 'rows.csv');
  fs.writeFileSync(target, 'previous\n');
  const file = new LineFile(target);
  const real = fs.writeSync;
  let calls = 0;
  // The first chunk goes down, the second finds the disk full.
  jest.spyOn(realFs, 'writeSync').mockImplementation(((...args: Parameters<typeof fs.writeSync>) => {
    if (++calls === 2) throw enospc();
    return (real as (...a: unknown[]) => number)(...args);
  }) as typeof fs.writeSync);
  let thrown: unknown;
  try {
    for (let i = 0; i < 50_000; i++) file.write(`${i},some text for the row\n`);
  } catch (e) {
    thrown = e;
  }
  expect(calls).toBe(2);
  expect(thrown).toBeInstanceOf(ConvfeatError);
  expect((thrown as Error).message).toMatch(
    new RegExp(
      `^No space left on .+ while writing ${target.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}; the previous rows\\.csv is untouched\\.`,
    ),
  );
  expect(fs.readFileSync(target, 'utf8')).toBe('previous\n');
  expect(leftovers()).toEqual([]);
  expect(() => file.commit()).toThrow(/already closed/);
});

test('a full disk at fsync, and a rename refused, keep the previous file and leave no temp', () => {
  const target = path.join(dir, 'rows.jsonl');
  fs.writeFileSync(target, 'previous\n');
  const first = new LineFile(target);
  first.add({ a: 1 });
  jest.spyOn(realFs, 'fsyncSync').mockImplementationOnce(() => {
    throw enospc();
  });
  expect(() => first.commit()).toThrow(/^No space left on .+; the previous rows\.jsonl is untouched\./);
  expect(fs.readFileSync(target, 'utf8')).toBe('previous\n');
  expect(leftovers()).toEqual([]);

  // A folder where the file should go: rename fails with one sentence, temp removed.
  const blocked = path.join(dir, 'taken');
  fs.mkdirSync(path.join(blocked, 'inside'), { recursive: true });
  const second = new LineFile(blocked);
  second.write('x\n');
  expect(() => second.commit()).toThrow(ConvfeatError);
  expect(fs.statSync(blocked).isDirectory()).toBe(true);
  expect(leftovers()).toEqual([]);
});

test('a file where the folder should be is one sentence, not a stack', () => {
  fs.writeFileSync(path.join(dir, 'plain'), 'x');
  expect(() => new LineFile(path.join(dir, 'plain', 'rows.csv'))).toThrow(
    /^Cannot use .*rows\.csv: part of that path is a file where a folder is expected; choose another location\.$/,
  );
});

test('a real full disk (small tmpfs) mid-write keeps the previous file and frees the temp', () => {
  const m = mountTmpfs(256);
  if (!canMount(m, 'the real full-disk line file test')) return;
  try {
    const target = path.join(m.dir, 'preds.csv');
    fs.writeFileSync(target, 'path,label\nold.jpg,cat\n');
    fillLeaving(m.dir, 16 * 1024);
    const file = new LineFile(target);
    expect(() => {
      for (let i = 0; i < 20_000; i++) file.write(`photos/${i}.jpg,cat,0.991234,1\n`);
      file.commit();
    }).toThrow(/^No space left on .+ while writing .*preds\.csv; the previous preds\.csv is untouched\./);
    expect(fs.readFileSync(target, 'utf8')).toBe('path,label\nold.jpg,cat\n');
    expect(fs.readdirSync(m.dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
  } finally {
    m.unmount();
  }
});
