/**
 * The extract pipeline end to end on real photos: counts, cache reuse, duplicates, every bad-input kind skipped with
 * its reason, --shard partitions, and a cache of another model refused. A tiny backbone keeps it fast; the real
 * ResNet50 run is in resnet50.test.ts.
 */
import * as fs from 'fs';
import * as path from 'path';
import { openBackbone, prepareBackbone } from '../../src/backbone/load';
import { EmbeddingStore, extractDataset, loadSplit, readFailures, readListing } from '../../src/cache';
import { scanDataset } from '../../src/dataset';
import { photos, tmpDir } from '../support/data';
import { writeTinyBackbone, TINY_DIM } from '../support/tinyBackbone';

async function tinyBackbone(dir: string, exif: 'apply' | 'ignore' = 'apply') {
  const model = writeTinyBackbone(dir);
  const prepared = await prepareBackbone({ model });
  return openBackbone(prepared, { device: 'cpu', threads: 1, exif });
}

function buildDataset(root: string): void {
  for (const [split, cls, n] of [
    ['train', 'airplane', 4],
    ['train', 'car', 4],
    ['test', 'airplane', 2],
    ['test', 'car', 2],
  ] as const) {
    const dir = path.join(root, split, cls);
    fs.mkdirSync(dir, { recursive: true });
    for (const p of photos(split, cls, n)) fs.copyFileSync(p, path.join(dir, path.basename(p)));
  }
  const first = photos('train', 'airplane', 1)[0]!;
  // a duplicate under a unicode, space-laden name
  fs.copyFileSync(first, path.join(root, 'train', 'car', 'dupe ✈ copy.jpg'));
  fs.writeFileSync(path.join(root, 'train', 'car', 'empty.jpg'), '');
  const jpeg = fs.readFileSync(first);
  fs.writeFileSync(path.join(root, 'train', 'car', 'truncated.jpg'), jpeg.subarray(0, Math.floor(jpeg.length / 2)));
  fs.writeFileSync(path.join(root, 'train', 'airplane', 'notes.txt'), 'not an image');
  fs.symlinkSync(path.join(root, 'train', 'airplane'), path.join(root, 'train', 'airplane', 'loop'));
}

describe('extractDataset', () => {
  const work = tmpDir('extract');
  const root = path.join(work, 'data');
  buildDataset(root);

  test('extracts, skips each bad file with its reason, then serves everything from the cache', async () => {
    const backbone = await tinyBackbone(work);
    const dataset = await scanDataset(root);
    const cache = path.join(work, 'cache');
    const failures: string[] = [];
    const first = await extractDataset(dataset, backbone, {
      cacheDir: cache,
      batchSize: 3,
      workers: 1,
      onFailure: (f) => failures.push(`${path.basename(f.path)}: ${f.reason}`),
    });
    expect(first.total).toBe(17); // 12 photos + duplicate + empty + truncated + notes.txt + the loop
    expect(first.extracted).toBe(12);
    // The duplicate's twin is stored by the time it is read (cache hit) or still in flight (duplicate): once either way.
    expect(first.duplicates + first.fromCache).toBe(1);
    expect(first.failed).toBe(4); // three files + the symlink loop found while scanning
    expect(failures.sort()).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^empty\.jpg: empty file/),
        expect.stringMatching(/^truncated\.jpg: truncated or corrupt JPEG/),
        expect.stringMatching(/^notes\.txt: not an image/),
        expect.stringMatching(/^loop: .*loop/i),
      ]),
    );
    expect(readFailures(cache)).toHaveLength(4);
    const listing = readListing(cache)!;
    expect(listing).toHaveLength(13);
    const dupe = listing.find((e) => e.relPath.endsWith('dupe ✈ copy.jpg'))!;
    const original = listing.find(
      (e) => e.relPath === `train/airplane/${path.basename(photos('train', 'airplane', 1)[0]!)}`,
    )!;
    expect(dupe.hash).toBe(original.hash);

    const second = await extractDataset(dataset, backbone, { cacheDir: cache, batchSize: 3, workers: 1 });
    expect(second.extracted).toBe(0);
    expect(second.fromCache).toBe(13);
    const train = loadSplit(cache, 'train');
    expect(train.X.length).toBe(9 * TINY_DIM);
    expect(train.classes).toEqual(['airplane', 'car']);
    await backbone.close();
  });

  test('the embeddings equal a direct run of the model on the preprocessed image', async () => {
    const backbone = await tinyBackbone(work);
    const cache = path.join(work, 'cache-direct');
    const dataset = await scanDataset(root, { split: 'test' });
    await extractDataset(dataset, backbone, { cacheDir: cache, batchSize: 4, workers: 2 });
    const { preprocess } = await import('../../src/preprocess');
    const item = dataset.items[0]!;
    const tensor = await preprocess(fs.readFileSync(item.path), backbone.transform);
    const direct = await backbone.embed(tensor, 1);
    const test = loadSplit(cache, 'test');
    const row = test.X.subarray(0, TINY_DIM);
    for (let i = 0; i < TINY_DIM; i++) expect(Math.abs(row[i]! - direct[i]!)).toBeLessThan(1e-6);
    await backbone.close();
  });

  test('--shard i/n extracts disjoint parts that together cover the dataset', async () => {
    const backbone = await tinyBackbone(work);
    const dataset = await scanDataset(root, { split: 'train' });
    const hashes: string[][] = [];
    for (let i = 0; i < 3; i++) {
      const cache = path.join(work, `shard-${i}`);
      const s = await extractDataset(dataset, backbone, { cacheDir: cache, shard: { index: i, count: 3 }, workers: 0 });
      expect(s.extracted + s.duplicates + s.fromCache + s.otherShard + s.failed).toBe(s.total);
      const store = EmbeddingStore.open(cache, { mode: 'read' });
      hashes.push([...store.hashes()]);
      store.close();
    }
    const all = hashes.flat();
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBe(8); // 8 distinct train photos (the duplicate shares a hash)
    await backbone.close();
  });

  test('a cache made with other preprocessing is refused with a sentence', async () => {
    const cache = path.join(work, 'cache');
    const other = await tinyBackbone(work, 'ignore');
    const dataset = await scanDataset(root, { split: 'test' });
    await expect(extractDataset(dataset, other, { cacheDir: cache })).rejects.toThrow(
      /another --cache directory|use another/i,
    );
    await other.close();
  });
});
