/** Cache facts as library calls: cacheSplits, cacheInfo, compactCache (what `convfeat cache info|compact` print). */
import * as fs from 'fs';
import * as path from 'path';
import { cacheInfo, cacheSplits, compactCache, splitsOf } from '../../src/cache';
import { ListingEntry, ListingWriter } from '../../src/cache/listing';
import { EmbeddingStore } from '../../src/cache/store';
import { flagFor } from '../../src/commands/flags';
import { ConvfeatError } from '../../src/util/errors';
import { useParamNames } from '../../src/util/params';
import { tmpDir } from '../support/data';
import { hashOf, IDENTITY, rowsFor } from './support/rows';

const D = IDENTITY.dim;

function entry(n: number, label: string, split: ListingEntry['split']): ListingEntry {
  const relPath = `${split ?? 'all'}/${label}/${n}.jpg`;
  const e: ListingEntry = { relPath, path: `/data/${relPath}`, hash: hashOf(n), label };
  if (split !== undefined) e.split = split;
  return e;
}

/** A cache written in `batches` store batches (one shard each), listing `entries` and `failures`. */
function makeCache(dir: string, entries: ListingEntry[], batches: number, failures = 0): void {
  const store = EmbeddingStore.open(dir, { mode: 'write', identity: IDENTITY });
  const hashes = [...new Set(entries.map((e) => e.hash))];
  const per = Math.ceil(hashes.length / batches);
  for (let i = 0; i < hashes.length; i += per) {
    const b = hashes.slice(i, i + per);
    store.putBatch(b, rowsFor(b, D));
  }
  const writer = new ListingWriter(dir);
  entries.forEach((e) => writer.add(e));
  for (let i = 0; i < failures; i++) writer.addFailure({ path: `/data/bad-${i}.jpg`, reason: 'truncated JPEG' });
  writer.commit();
  store.close();
}

afterEach(() => useParamNames());

describe('cacheSplits', () => {
  test('the sorted distinct splits of the listed images, streamed from the listing', () => {
    const dir = tmpDir('facts-splits');
    makeCache(
      dir,
      [entry(1, 'dog', 'val'), entry(2, 'cat', 'train'), entry(3, 'cat', 'val'), entry(4, 'dog', 'test')],
      1,
    );
    expect(cacheSplits(dir)).toEqual(['test', 'train', 'val']);
  });

  test('[] for a cache without splits and for a directory no extraction has completed in', () => {
    const dir = tmpDir('facts-nosplits');
    makeCache(dir, [entry(1, 'dog', undefined), entry(2, 'cat', undefined)], 1);
    expect(cacheSplits(dir)).toEqual([]);
    expect(cacheSplits(tmpDir('facts-empty'))).toEqual([]);
  });

  test('splitsOf answers the same for entries in hand (dataset items, a listing already read)', () => {
    expect(splitsOf([{ split: 'val' }, {}, { split: 'train' }, { split: 'val' }])).toEqual(['train', 'val']);
    expect(splitsOf([{}, {}])).toEqual([]);
  });
});

describe('cacheInfo', () => {
  test('identity, rows, shards, listed images per split and failures', () => {
    const dir = tmpDir('facts-info');
    // Image 1 is listed twice (same content in train and test): two listed images, one row.
    const entries = [
      entry(1, 'dog', 'train'),
      entry(2, 'cat', 'train'),
      entry(3, 'cat', 'val'),
      entry(1, 'dog', 'test'),
    ];
    makeCache(dir, entries, 3, 2);
    const info = cacheInfo(dir);
    expect(info).toEqual({
      ...JSON.parse(fs.readFileSync(path.join(dir, 'cache.json'), 'utf8')),
      rows: 3,
      shards: 3,
      listed: 4,
      splits: { train: 2, val: 1, test: 1 },
      failures: 2,
    });
    expect(info.model).toBe(IDENTITY.model);
    expect(info.dim).toBe(D);
  });

  test('a directory that is not a cache is refused in one sentence naming it', () => {
    const dir = tmpDir('facts-notcache');
    expect(() => cacheInfo(dir)).toThrow(ConvfeatError);
    expect(() => cacheInfo(dir)).toThrow(`${dir} is not a convfeat cache`);
  });
});

describe('compactCache', () => {
  test('rewrites many shards into one, keeping every row and the listing', () => {
    const dir = tmpDir('facts-compact');
    const entries = Array.from({ length: 12 }, (_, i) => entry(i, i % 2 ? 'cat' : 'dog', i < 8 ? 'train' : 'test'));
    makeCache(dir, entries, 6);
    const before = cacheInfo(dir);
    expect(before.shards).toBe(6);
    const r = compactCache(dir);
    expect(r).toMatchObject({ shardsBefore: 6, shardsAfter: 1 });
    const after = cacheInfo(dir);
    expect(after).toEqual({ ...before, shards: 1 });
    const store = EmbeddingStore.open(dir, { mode: 'read' });
    const hashes = entries.map((e) => e.hash);
    expect(store.gather(hashes)).toEqual(rowsFor(hashes, D));
    store.close();
  });

  test('a directory that is not a cache: the library names its option, the CLI its flag', () => {
    const dir = tmpDir('facts-compact-none');
    expect(() => compactCache(dir)).toThrow(`${dir} is not a convfeat cache; check the cacheDir path.`);
    useParamNames(flagFor);
    expect(() => compactCache(dir)).toThrow(`${dir} is not a convfeat cache; check the --cache path.`);
  });
});
