import * as fs from 'fs';
import * as path from 'path';
import { EmbeddingStore, INDEX_FILE, SHARDS_DIR } from '../../src/cache/store';
import { ConvfeatError, UsageError } from '../../src/util/errors';
import { writeNpySync } from '../../src/util/npy';
import { tmpDir } from '../support/data';
import { hashOf, IDENTITY, rowFor, rowsFor } from './support/rows';

const D = IDENTITY.dim;
const keys = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => hashOf(from + i));

function fill(dir: string, batches: string[][]): EmbeddingStore {
  const store = EmbeddingStore.open(dir, { mode: 'write', identity: IDENTITY });
  for (const b of batches) store.putBatch(b, rowsFor(b, D));
  return store;
}

function expectIntact(store: EmbeddingStore, hashes: string[]): void {
  expect(store.size).toBe(hashes.length);
  expect(store.gather(hashes)).toEqual(rowsFor(hashes, D));
}

/** The row lines of the index (shard records, which carry a checksum, are left out). */
function indexLines(dir: string): string[] {
  return fs
    .readFileSync(path.join(dir, INDEX_FILE), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{"h"'));
}

describe('EmbeddingStore', () => {
  test('put/get round trip, gather in any order with repeats, dedup within a batch and against the store', () => {
    const dir = tmpDir('store');
    const store = fill(dir, [keys(0, 5)]);
    expect(store.get(hashOf(3))).toEqual(rowFor(hashOf(3), D));
    expect(store.get(hashOf(99))).toBeUndefined();
    expect(store.has(hashOf(4))).toBe(true);
    const mixed = [hashOf(4), hashOf(2), hashOf(5), hashOf(5), hashOf(6)];
    expect(store.putBatch(mixed, rowsFor(mixed, D))).toBe(2);
    expect(store.putBatch(keys(0, 3), rowsFor(keys(0, 3), D))).toBe(0);
    const order = [hashOf(6), hashOf(0), hashOf(6), hashOf(3)];
    expect(store.gather(order)).toEqual(rowsFor(order, D));
    expect(store.size).toBe(7);
    expect(indexLines(dir)).toHaveLength(7);
    expect(fs.readdirSync(path.join(dir, SHARDS_DIR))).toEqual(['s000001.npy', 's000002.npy']);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'cache.json'), 'utf8'))).toMatchObject({
      ...IDENTITY,
      format: 'convfeat-embedding-cache',
      version: 1,
    });
    expect(() => store.gather([hashOf(1), hashOf(42)])).toThrow(/has no embedding for content hash/);
    store.close();

    const again = EmbeddingStore.open(dir);
    expectIntact(again, keys(0, 7));
    expect(() => again.putBatch(keys(7, 8), rowsFor(keys(7, 8), D))).toThrow(/opened for reading/);
  });

  test('door checks: bad hashes, wrong row count, missing identity, closed store', () => {
    const dir = tmpDir('store-door');
    const store = fill(dir, []);
    expect(() => store.putBatch(['ABC'], new Float32Array(D))).toThrow(UsageError);
    expect(() => store.putBatch(keys(0, 2), new Float32Array(D))).toThrow(
      /Expected rows to be a Float32Array of 2×8 = 16 numbers but received "length 8"/,
    );
    expect(() => EmbeddingStore.open(tmpDir('noid'), { mode: 'write' })).toThrow(UsageError);
    expect(() => EmbeddingStore.open(dir, { mode: 'write', identity: { ...IDENTITY, dim: 0 } })).toThrow(
      /Expected dim to be an integer/,
    );
    store.close();
    expect(() => store.get(hashOf(0))).toThrow(/was closed/);
    expect(() => EmbeddingStore.open(tmpDir('not-a-cache'))).toThrow(/is not a convfeat cache/);
  });

  test('a cache made with another model, preprocessing or dim is refused with a sentence', () => {
    const dir = tmpDir('store-fp');
    fill(dir, [keys(0, 2)]).close();
    const open = (identity: typeof IDENTITY) => () => EmbeddingStore.open(dir, { mode: 'write', identity });
    expect(open({ ...IDENTITY, model: 'resnet50', modelFingerprint: 'b'.repeat(64) })).toThrow(
      'This cache holds embeddings from model tiny (fingerprint aaaaaaaaaaaa), not resnet50 (fingerprint bbbbbbbbbbbb); use another cacheDir directory or model tiny.',
    );
    expect(open({ ...IDENTITY, preprocessFingerprint: 'p1' })).toThrow(/made with other preprocessing/);
    expect(open({ ...IDENTITY, dim: 16 })).toThrow(/holds 8-dimensional embeddings/);
    expect(() => EmbeddingStore.open(dir, { identity: { ...IDENTITY, preprocessFingerprint: 'p1' } })).toThrow(
      ConvfeatError,
    );
    // the refused opens released their lock: a matching writer gets in
    fill(dir, []).close();
    const notCache = tmpDir('store-busy');
    fs.writeFileSync(path.join(notCache, 'photo.jpg'), 'x');
    expect(() => EmbeddingStore.open(notCache, { mode: 'write', identity: IDENTITY })).toThrow(
      /is not empty and is not a convfeat cache/,
    );
    expect(fs.existsSync(path.join(notCache, 'lock'))).toBe(false);
  });

  describe('crash states (what SIGKILL can leave behind)', () => {
    test('a torn last index line is ignored by readers and cut off by the next writer', () => {
      const dir = tmpDir('crash-torn');
      fill(dir, [keys(0, 3), keys(3, 6)]).close();
      const torn = JSON.stringify({ h: hashOf(6), s: 's000003.npy', r: 0 }).slice(0, 30);
      fs.appendFileSync(path.join(dir, INDEX_FILE), torn);
      expectIntact(EmbeddingStore.open(dir), keys(0, 6));
      const store = fill(dir, [keys(6, 9)]);
      store.close();
      const lines = indexLines(dir);
      expect(lines).toHaveLength(9);
      for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
      expectIntact(EmbeddingStore.open(dir), keys(0, 9));
    });

    test('a shard written but never indexed is ignored by readers, removed by the next writer, its name never reused', () => {
      const dir = tmpDir('crash-orphan');
      fill(dir, [keys(0, 2)]).close();
      const orphan = path.join(dir, SHARDS_DIR, 's000007.npy');
      writeNpySync(orphan, { dtype: '<f4', shape: [2, D], data: rowsFor(keys(50, 52), D) });
      expectIntact(EmbeddingStore.open(dir), keys(0, 2));
      expect(fs.existsSync(orphan)).toBe(true); // readers change nothing
      const store = EmbeddingStore.open(dir, { mode: 'write', identity: IDENTITY });
      expect(fs.existsSync(orphan)).toBe(false); // the writer holds the lock: whoever wrote it is dead
      expectIntact(store, keys(0, 2));
      store.putBatch(keys(2, 4), rowsFor(keys(2, 4), D));
      expect(fs.readdirSync(path.join(dir, SHARDS_DIR))).toEqual(['s000001.npy', 's000008.npy']);
      const result = store.compact();
      expect(result).toEqual({ shardsBefore: 2, shardsAfter: 1, removedFiles: 2 });
      expect(fs.readdirSync(path.join(dir, SHARDS_DIR))).toEqual(['s000009.npy']);
      expectIntact(store, keys(0, 4));
      store.close();
      expectIntact(EmbeddingStore.open(dir), keys(0, 4));
    });

    test('index lines pointing to a missing shard, a row past the end or a bad name are ignored; the first line of a hash wins', () => {
      const dir = tmpDir('crash-dangling');
      fill(dir, [keys(0, 2)]).close();
      const extra = [
        { h: hashOf(10), s: 's000404.npy', r: 0 },
        { h: hashOf(11), s: 's000001.npy', r: 2 },
        { h: hashOf(12), s: '../cache.json', r: 0 },
        { h: hashOf(0), s: 's000001.npy', r: 1 }, // a second line for hash 0 must not move it to row 1
        { h: 'nothex', s: 's000001.npy', r: 0 },
      ];
      fs.appendFileSync(path.join(dir, INDEX_FILE), extra.map((e) => JSON.stringify(e) + '\n').join(''));
      expectIntact(EmbeddingStore.open(dir), keys(0, 2));
    });

    test('temp files of interrupted atomic writes are ignored by readers and removed by the next writer', () => {
      const dir = tmpDir('crash-temp');
      fill(dir, [keys(0, 2)]).close();
      const tempShard = path.join(dir, SHARDS_DIR, '.s000002.npy.tmp-123-abcd');
      const tempListing = path.join(dir, '.dataset.jsonl.tmp-123-abcd');
      fs.writeFileSync(tempShard, 'half a shard');
      fs.writeFileSync(tempListing, '{"half');
      expectIntact(EmbeddingStore.open(dir), keys(0, 2));
      expect(fs.existsSync(tempShard)).toBe(true);
      const store = fill(dir, [keys(2, 3)]);
      expect(fs.existsSync(tempShard)).toBe(false);
      expect(fs.existsSync(tempListing)).toBe(false);
      expectIntact(store, keys(0, 3));
      store.close();
    });

    test('a truncated shard (e.g. a partial copy) drops only its rows', () => {
      const dir = tmpDir('crash-short');
      fill(dir, [keys(0, 2), keys(2, 4)]).close();
      const shard = path.join(dir, SHARDS_DIR, 's000002.npy');
      fs.truncateSync(shard, fs.statSync(shard).size - 4);
      expectIntact(EmbeddingStore.open(dir), keys(0, 2));
    });
  });

  test('compact merges many small shards into one without changing any row', () => {
    const dir = tmpDir('compact');
    const batches = Array.from({ length: 20 }, (_, b) => keys(b * 3, b * 3 + 3));
    const store = fill(dir, batches);
    expect(store.shardCount).toBe(20);
    expect(store.compact()).toEqual({ shardsBefore: 20, shardsAfter: 1, removedFiles: 20 });
    expectIntact(store, keys(0, 60));
    expect(store.compact()).toEqual({ shardsBefore: 1, shardsAfter: 1, removedFiles: 0 });
    store.putBatch(keys(60, 61), rowsFor(keys(60, 61), D));
    store.close();
    expectIntact(EmbeddingStore.open(dir), keys(0, 61));
    expect(indexLines(dir)).toHaveLength(61);
  });

  test('shards() yields every row exactly once, one shard at a time', () => {
    const dir = tmpDir('shards-iter');
    const store = fill(dir, [keys(0, 4), keys(4, 5), keys(5, 9)]);
    const seen: string[] = [];
    for (const { hashes, rows } of store.shards()) {
      expect(rows).toEqual(rowsFor(hashes, D));
      seen.push(...hashes);
    }
    expect(seen.sort()).toEqual(keys(0, 9).sort());
    store.close();
  });
});
