/**
 * Deterministic crash injection (src/cache/crash.ts): a writer is stopped by SIGKILL at each named point of the
 * store's write protocol, and what it leaves must be readable, lose nothing that was reported stored, and be
 * repaired by the next writer. A spy on the real `fs` proves the order the protocol depends on, which a kill
 * cannot see (a missing fsync only matters at a power cut).
 */
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
// The module object itself (not a namespace copy): src/ reads its functions through it, so spies on it see every call.
import realFs = require('fs');
import { EmbeddingStore, INDEX_FILE, SHARDS_DIR } from '../../src/cache/store';
import { tmpDir } from '../support/data';
import { transpileSources } from './support/compile';
import { hashOf, IDENTITY, rowFor, rowsFor } from './support/rows';

const DIM = 64; // crash-child.js writes 64-d rows
const TOTAL = 120;
const BATCH = 10;
const CHILD = path.join(__dirname, 'support', 'crash-child.js');

let storeModule: string;
beforeAll(() => {
  const out = tmpDir('crashpoint-build');
  transpileSources(out, ['util', 'dataset', 'cache']);
  storeModule = path.join(out, 'src', 'cache', 'store.js');
});

function runChild(cache: string, crashAt?: string, then?: 'compact'): { durable: number; signal: string | null } {
  const args = [CHILD, storeModule, cache, String(BATCH), String(TOTAL), ...(then ? [then] : [])];
  const env = { ...process.env };
  delete env.CONVFEAT_CRASH_AT;
  if (crashAt) env.CONVFEAT_CRASH_AT = crashAt;
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env });
  const numbers = r.stdout
    .split('\n')
    .map(Number)
    .filter((n) => n > 0);
  return { durable: numbers.length ? numbers[numbers.length - 1]! : 0, signal: r.signal };
}

interface IndexRow {
  h: string;
  s: string;
  r: number;
}

/**
 * What a crash may leave on disk, checked before any recovery: every complete index line points at a shard that
 * exists whole, with the checksum its record says. (An index line written before its shard breaks this.)
 */
function expectIndexPointsAtWholeShards(cache: string): void {
  const text = fs.readFileSync(path.join(cache, INDEX_FILE), 'utf8');
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  const sums = new Map<string, string>();
  for (const line of complete.split('\n').filter((l) => l.length > 0)) {
    const v = JSON.parse(line) as Partial<IndexRow> & { sha256?: string; n?: number };
    const file = path.join(cache, SHARDS_DIR, v.s!);
    if (v.h === undefined) {
      expect(fs.existsSync(file)).toBe(true);
      const sha = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
      expect(`${v.s} ${sha}`).toBe(`${v.s} ${v.sha256}`);
      sums.set(v.s!, v.sha256!);
    } else {
      expect(sums.has(v.s!)).toBe(true); // its shard record (and so its whole shard) came first
    }
  }
}

/** Every reported row is stored intact, no row twice; returns the stored count. */
function expectRowsIntact(cache: string, reported: number): number {
  const store = EmbeddingStore.open(cache);
  for (let k = 0; k < reported; k++) expect(store.has(hashOf(k))).toBe(true);
  const hashes = [...store.hashes()];
  const X = store.gather(hashes);
  hashes.forEach((h, i) => expect(Array.from(X.subarray(i * DIM, (i + 1) * DIM))).toEqual(Array.from(rowFor(h, DIM))));
  return store.size;
}

/** After the next writer opened the cache: no temp file, no shard that no index line uses. */
function expectNoLeftovers(cache: string): void {
  const store = EmbeddingStore.open(cache, {
    mode: 'write',
    identity: { ...IDENTITY, dim: DIM },
    warn: () => undefined,
  });
  const used = new Set(
    fs
      .readFileSync(path.join(cache, INDEX_FILE), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{"h"'))
      .map((l) => (JSON.parse(l) as IndexRow).s),
  );
  store.close();
  expect(fs.readdirSync(path.join(cache, SHARDS_DIR)).sort()).toEqual([...used].sort());
  expect(fs.readdirSync(cache).filter((n) => n.includes('.tmp-'))).toEqual([]);
}

describe('crash at every named point of the write protocol (CONVFEAT_CRASH_AT)', () => {
  const batchPoints = ['shard-written', 'shard-fsynced', 'shard-renamed', 'index-written', 'index-fsynced'];
  test.each(batchPoints)('killed at %s of the third batch: recovers, loses at most that batch', (point) => {
    const cache = tmpDir(`crashpoint-${point}`);
    const crashed = runChild(cache, `${point}:3`);
    expect(crashed.signal).toBe('SIGKILL'); // the point was reached: a renamed or removed point fails here
    expect(crashed.durable).toBe(2 * BATCH);
    expectIndexPointsAtWholeShards(cache);
    const stored = expectRowsIntact(cache, crashed.durable);
    // The batch in flight is stored only if its index append reached the disk before the kill.
    expect(stored).toBe(point.startsWith('index') ? 3 * BATCH : 2 * BATCH);
    expectNoLeftovers(cache);
    const resumed = runChild(cache);
    expect(resumed).toEqual({ durable: TOTAL, signal: null });
    expect(expectRowsIntact(cache, TOTAL)).toBe(TOTAL);
  });

  const compactPoints = [
    'compact-shard-written',
    'compact-shard-fsynced',
    'compact-shard-renamed',
    'compact-index-written',
    'compact-index-renamed',
    'orphan-removed',
  ];
  test.each(compactPoints)(
    'killed at %s during compaction: every row kept, orphan shards removed next run',
    (point) => {
      const cache = tmpDir(`crashpoint-${point}`);
      const crashed = runChild(cache, point, 'compact');
      expect(crashed.signal).toBe('SIGKILL');
      expect(crashed.durable).toBe(TOTAL);
      expectIndexPointsAtWholeShards(cache);
      expect(expectRowsIntact(cache, TOTAL)).toBe(TOTAL);
      expectNoLeftovers(cache);
      expect(expectRowsIntact(cache, TOTAL)).toBe(TOTAL);
    },
  );
});

describe('write order, proven by a spy on the real fs', () => {
  type Event = { op: string; file: string };

  /** Records opens, writes, fsyncs, closes and renames by file path while fn runs. */
  function record(fn: () => void): Event[] {
    const events: Event[] = [];
    const files = new Map<number, string>();
    const openSync = fs.openSync;
    const realRename = fs.renameSync;
    const spies = [
      jest.spyOn(realFs, 'openSync').mockImplementation(((file: fs.PathLike, ...rest: unknown[]) => {
        const fd = (openSync as (...a: unknown[]) => number)(file, ...rest);
        files.set(fd, String(file));
        return fd;
      }) as typeof fs.openSync),
      ...(['writeSync', 'fsyncSync', 'closeSync', 'ftruncateSync'] as const).map((op) => {
        const real = fs[op] as (...a: unknown[]) => unknown;
        return jest.spyOn(realFs, op).mockImplementation(((fd: number, ...rest: unknown[]) => {
          events.push({ op, file: files.get(fd) ?? `fd ${fd}` });
          return real(fd, ...rest);
        }) as never);
      }),
      jest.spyOn(realFs, 'renameSync').mockImplementation(((from: fs.PathLike, to: fs.PathLike) => {
        events.push({ op: 'renameSync', file: `${String(from)} -> ${String(to)}` });
        realRename(from, to);
      }) as typeof fs.renameSync),
    ];
    try {
      fn();
    } finally {
      spies.forEach((s) => s.mockRestore());
    }
    return events;
  }

  test('a shard is written, fsynced and renamed (and its folder fsynced) before its index lines; the append is fsynced before putBatch returns', () => {
    const cache = tmpDir('spy-order');
    const store = EmbeddingStore.open(cache, { mode: 'write', identity: IDENTITY });
    const hashes = [hashOf('a'), hashOf('b'), hashOf('c')];
    const events = record(() => store.putBatch(hashes, rowsFor(hashes, IDENTITY.dim)));
    store.close();
    const index = path.join(cache, INDEX_FILE);
    const shardsDir = path.join(cache, SHARDS_DIR);
    const shard = path.join(shardsDir, 's000001.npy');
    const at = (pred: (e: Event) => boolean, what: string): number => {
      const i = events.findIndex(pred);
      if (i < 0) throw new Error(`${what} never happened; events: ${JSON.stringify(events)}`);
      return i;
    };
    const lastAt = (pred: (e: Event) => boolean): number => events.map(pred).lastIndexOf(true);
    const isTemp = (f: string): boolean =>
      path.dirname(f) === shardsDir && /^\.s000001\.npy\.tmp-/.test(path.basename(f));
    const tmpWrite = at((e) => e.op === 'writeSync' && isTemp(e.file), 'the shard temp write');
    const tmpFsync = at((e) => e.op === 'fsyncSync' && isTemp(e.file), 'the shard temp fsync');
    const rename = at((e) => e.op === 'renameSync' && e.file.endsWith(`-> ${shard}`), 'the shard rename');
    const dirFsync = at((e) => e.op === 'fsyncSync' && e.file === shardsDir, 'the shards folder fsync');
    const indexWrite = at((e) => e.op === 'writeSync' && e.file === index, 'the index append');
    const lastIndexWrite = lastAt((e) => e.op === 'writeSync' && e.file === index);
    const indexFsync = lastAt((e) => e.op === 'fsyncSync' && e.file === index);
    expect(lastAt((e) => e.op === 'writeSync' && isTemp(e.file))).toBeLessThan(tmpFsync);
    expect(tmpWrite).toBeLessThan(tmpFsync);
    expect(tmpFsync).toBeLessThan(rename);
    expect(rename).toBeLessThan(dirFsync);
    expect(dirFsync).toBeLessThan(indexWrite);
    expect(indexFsync).toBeGreaterThan(lastIndexWrite); // the append is fsynced after its last byte…
    expect(events.slice(indexFsync + 1).filter((e) => e.op === 'writeSync')).toEqual([]); // …and nothing follows it
    // what the lines say: one shard record, then one row line per image
    const lines = fs.readFileSync(index, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(1 + hashes.length);
    expect(JSON.parse(lines[0]!)).toMatchObject({ s: 's000001.npy', n: 3 });
  });

  test('compaction writes every new shard and fsyncs the new index before it replaces the old one', () => {
    const cache = tmpDir('spy-compact');
    const store = EmbeddingStore.open(cache, { mode: 'write', identity: IDENTITY });
    for (let b = 0; b < 4; b++) {
      const hashes = [hashOf(`c${b}a`), hashOf(`c${b}b`)];
      store.putBatch(hashes, rowsFor(hashes, IDENTITY.dim));
    }
    const events = record(() => store.compact());
    store.close();
    const index = path.join(cache, INDEX_FILE);
    const indexRename = events.findIndex((e) => e.op === 'renameSync' && e.file.endsWith(`-> ${index}`));
    const shardRename = events.findIndex(
      (e) => e.op === 'renameSync' && e.file.endsWith('-> ' + path.join(cache, SHARDS_DIR, 's000005.npy')),
    );
    const tempIndexFsync = events.findIndex(
      (e) => e.op === 'fsyncSync' && path.basename(e.file).startsWith('.index.jsonl.tmp-'),
    );
    expect(shardRename).toBeGreaterThanOrEqual(0);
    expect(tempIndexFsync).toBeGreaterThan(shardRename);
    expect(indexRename).toBeGreaterThan(tempIndexFsync);
  });
});
