import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { exportCache } from '../../src/cache/export';
import { ListingEntry, ListingWriter, readFailures, readListing } from '../../src/cache/listing';
import { loadSplit } from '../../src/cache/load';
import { mergeCaches } from '../../src/cache/merge';
import { EmbeddingStore } from '../../src/cache/store';
import { ConvfeatError, UsageError } from '../../src/util/errors';
import { readNpySync } from '../../src/util/npy';
import { tmpDir } from '../support/data';
import { hashOf, IDENTITY, rowsFor } from './support/rows';
import { hasNumpy, testWithPeer } from '../support/peers';

const D = IDENTITY.dim;

function entry(n: number, label: string | undefined, split: ListingEntry['split']): ListingEntry {
  const relPath = `${split ?? 'all'}/${label ?? 'none'}/${n} é.jpg`;
  const e: ListingEntry = { relPath, path: `/data/${relPath}`, hash: hashOf(n) };
  if (label !== undefined) e.label = label;
  if (split !== undefined) e.split = split;
  return e;
}

/** A cache whose store holds the entries' rows and whose listing is exactly `entries`. */
function makeCache(dir: string, entries: ListingEntry[], failures: { path: string; reason: string }[] = []): void {
  const store = EmbeddingStore.open(dir, { mode: 'write', identity: IDENTITY });
  const hashes = entries.map((e) => e.hash);
  store.putBatch(hashes, rowsFor(hashes, D));
  const writer = new ListingWriter(dir);
  entries.forEach((e) => writer.add(e));
  failures.forEach((f) => writer.addFailure(f));
  writer.commit();
  store.close();
}

const ENTRIES = [
  entry(1, 'dog', 'train'),
  entry(2, 'cat', 'train'),
  entry(3, 'bird', 'val'),
  entry(4, 'dog', 'test'),
  entry(1, 'dog', 'test'),
];

describe('listing', () => {
  test('commit replaces the listing atomically; abort keeps the previous one; replaceSplits keeps the other splits', () => {
    const dir = tmpDir('listing');
    makeCache(dir, ENTRIES, [{ path: '/data/broken.jpg', reason: 'truncated JPEG' }]);
    expect(readListing(dir)).toEqual(ENTRIES);
    expect(readFailures(dir)).toEqual([{ path: '/data/broken.jpg', reason: 'truncated JPEG' }]);

    const aborted = new ListingWriter(dir);
    aborted.add(entry(9, 'x', 'train'));
    aborted.abort();
    expect(readListing(dir)).toEqual(ENTRIES);
    expect(fs.readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);

    const valOnly = new ListingWriter(dir, { replaceSplits: ['val'] });
    valOnly.add(entry(5, 'eel', 'val'));
    valOnly.addFailure({ path: '/data/v.jpg', reason: 'not an image', split: 'val' });
    valOnly.commit();
    const after = readListing(dir)!;
    expect(after.map((e) => e.relPath).sort()).toEqual(
      [entry(5, 'eel', 'val'), ...ENTRIES.filter((e) => e.split !== 'val')].map((e) => e.relPath).sort(),
    );
    expect(readFailures(dir)).toEqual([{ path: '/data/v.jpg', reason: 'not an image', split: 'val' }]);
    expect(() => new ListingWriter(dir).add({ ...entry(1, 'a', 'train'), hash: 'nope' })).toThrow(
      /no valid content hash/,
    );
  });
});

describe('loadSplit', () => {
  const dir = tmpDir('load');
  beforeAll(() => makeCache(dir, ENTRIES));

  test('joins listing and store in relPath order; class ids come from the whole listing so they agree across splits', () => {
    const all = loadSplit(dir);
    expect(all.classes).toEqual(['bird', 'cat', 'dog']);
    // relPath order (test/dog/1, test/dog/4, train/cat/2, train/dog/1, val/bird/3), not the listing's append order
    const sorted = [ENTRIES[4]!, ENTRIES[3]!, ENTRIES[1]!, ENTRIES[0]!, ENTRIES[2]!];
    expect(all.relPaths).toEqual(sorted.map((e) => e.relPath));
    expect(all.X).toEqual(
      rowsFor(
        sorted.map((e) => e.hash),
        D,
      ),
    );
    expect(Array.from(all.y)).toEqual([2, 2, 1, 2, 0]);
    const test = loadSplit(dir, 'test');
    expect(test.classes).toEqual(['bird', 'cat', 'dog']);
    expect(Array.from(test.y)).toEqual([2, 2]);
    expect(test.paths).toEqual([ENTRIES[4]!.path, ENTRIES[3]!.path]);
    expect(test.hashes).toEqual([hashOf(1), hashOf(4)]);
    expect(test.X).toEqual(rowsFor([hashOf(1), hashOf(4)], D)); // a duplicate image is one row per listed path
    expect(test.meta).toMatchObject(IDENTITY);
    expect(loadSplit(dir, 'validation').relPaths).toEqual([ENTRIES[2]!.relPath]);
  });

  test('unknown split, empty split, no listing, unlabelled entries', () => {
    expect(() => loadSplit(dir, 'dev')).toThrow(UsageError);
    const trainOnly = tmpDir('load-train');
    makeCache(trainOnly, [entry(1, 'a', 'train')]);
    expect(() => loadSplit(trainOnly, 'val')).toThrow(
      `The cache ${trainOnly} has no images in split val; it has train.`,
    );
    const unlisted = tmpDir('load-nolisting');
    EmbeddingStore.open(unlisted, { mode: 'write', identity: IDENTITY }).close();
    expect(() => loadSplit(unlisted)).toThrow(ConvfeatError);
    expect(() => loadSplit(unlisted)).toThrow(/lists no images yet/);
    const unlabelled = tmpDir('load-unlabelled');
    makeCache(unlabelled, [entry(7, undefined, undefined), entry(8, undefined, undefined)]);
    const data = loadSplit(unlabelled);
    expect(data.classes).toEqual([]);
    expect(Array.from(data.y)).toEqual([-1, -1]);
    expect(() => loadSplit(unlabelled, 'train')).toThrow(/has no splits/);
  });
});

describe('exportCache', () => {
  test('writes X.npy (float32 N×D), y.npy (int64), classes.json and paths.txt', () => {
    const dir = tmpDir('export-src');
    makeCache(dir, ENTRIES);
    const out = path.join(tmpDir('export'), 'nested', 'out');
    const result = exportCache(dir, { out, split: 'train' });
    expect(result).toMatchObject({ rows: 2, dim: D, classes: 3 });
    const X = readNpySync(path.join(out, 'X.npy'));
    expect(X.dtype).toBe('<f4');
    expect(X.shape).toEqual([2, D]);
    expect(X.data).toEqual(rowsFor([hashOf(2), hashOf(1)], D)); // train/cat/2 before train/dog/1
    const y = readNpySync(path.join(out, 'y.npy'));
    expect(y.dtype).toBe('<i8');
    expect(y.shape).toEqual([2]);
    expect(Array.from(y.data as BigInt64Array)).toEqual([1n, 2n]);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'classes.json'), 'utf8'))).toEqual(['bird', 'cat', 'dog']);
    expect(fs.readFileSync(path.join(out, 'paths.txt'), 'utf8')).toBe(`${ENTRIES[1]!.path}\n${ENTRIES[0]!.path}\n`);
    const header = fs.readFileSync(path.join(out, 'X.npy')).subarray(0, 128).toString('latin1');
    expect(header).toContain(`'shape': (2, ${D})`);
  });

  const python = '/usr/bin/python3';
  testWithPeer('numpy', hasNumpy(python))('NumPy loads the export', () => {
    const dir = tmpDir('export-np-src');
    makeCache(dir, ENTRIES);
    const out = tmpDir('export-np');
    exportCache(dir, { out });
    const script = `import numpy as np, json, sys
X = np.load(sys.argv[1] + '/X.npy'); y = np.load(sys.argv[1] + '/y.npy')
print(json.dumps([list(X.shape), str(X.dtype), list(y.shape), str(y.dtype), y.tolist(), float(X[2, 3])]))`;
    const run = spawnSync(python, ['-c', script, out], { encoding: 'utf8' });
    expect(run.status).toBe(0);
    const [xs, xt, ys, yt, yv, x23] = JSON.parse(run.stdout);
    expect([xs, xt, ys, yt, yv]).toEqual([[5, D], 'float32', [5], 'int64', [2, 2, 1, 2, 0]]);
    expect(x23).toBeCloseTo(rowsFor([hashOf(2)], D)[3]!, 5); // row 2 in relPath order: train/cat/2
  });

  test('a path with a line break is refused rather than corrupting paths.txt', () => {
    const dir = tmpDir('export-nl');
    makeCache(dir, [{ ...entry(1, 'a', 'train'), path: '/data/two\nlines.jpg' }]);
    expect(() => exportCache(dir, { out: tmpDir('export-nl-out') })).toThrow(/contains a line break/);
  });
});

describe('mergeCaches', () => {
  test('unions rows (dedup by hash) and listings (first entry per path wins); drops failures extracted elsewhere', () => {
    const a = tmpDir('merge-a');
    const b = tmpDir('merge-b');
    makeCache(a, [entry(1, 'dog', 'train'), entry(2, 'cat', 'train')], [{ path: '/data/x.jpg', reason: 'corrupt' }]);
    makeCache(
      b,
      [entry(2, 'cat', 'train'), entry(3, 'eel', 'val'), { ...entry(4, 'x', 'test'), path: '/data/x.jpg' }],
      [{ path: '/data/y.jpg', reason: 'empty file' }],
    );
    const target = path.join(tmpDir('merge-t'), 'merged');
    const result = mergeCaches([a, b], target);
    expect(result).toEqual({ added: 4, duplicates: 1, rows: 4, listed: 4, failures: 1 });
    const store = EmbeddingStore.open(target);
    expect(store.gather([1, 2, 3, 4].map(hashOf))).toEqual(rowsFor([1, 2, 3, 4].map(hashOf), D));
    expect(readListing(target)!.map((e) => e.path)).toEqual([
      '/data/train/dog/1 é.jpg',
      '/data/train/cat/2 é.jpg',
      '/data/val/eel/3 é.jpg',
      '/data/x.jpg',
    ]);
    expect(readFailures(target)).toEqual([{ path: '/data/y.jpg', reason: 'empty file' }]);
    expect(fs.existsSync(path.join(target, 'lock'))).toBe(false);
    // merging again adds nothing
    expect(mergeCaches([b], target)).toMatchObject({ added: 0, duplicates: 3, rows: 4, listed: 4 });
  });

  test('refuses caches of different embedding spaces and a target that is also a source', () => {
    const a = tmpDir('merge-fa');
    const b = tmpDir('merge-fb');
    makeCache(a, [entry(1, 'dog', 'train')]);
    const other = EmbeddingStore.open(b, {
      mode: 'write',
      identity: { ...IDENTITY, model: 'vgg16', modelFingerprint: 'c'.repeat(64) },
    });
    other.close();
    expect(() => mergeCaches([a, b], tmpDir('merge-ft'))).toThrow(
      /Cannot merge .* \(model vgg16, 8-d\) into caches of model tiny/,
    );
    expect(() => mergeCaches([a], b)).toThrow(/This cache holds embeddings from model vgg16/);
    expect(() => mergeCaches([a], a)).toThrow(/is also a source/);
    expect(() => mergeCaches([], a)).toThrow(UsageError);
  });
});
