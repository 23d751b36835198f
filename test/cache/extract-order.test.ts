/**
 * What a cache serves does not depend on how it was filled: shard runs one after another into one cache keep each
 * other's images listed, rows come back in relPath order whether the run was fresh or resumed, and evaluate without
 * --split never silently scores the training images.
 */
import * as fs from 'fs';
import * as path from 'path';
import { openBackbone, prepareBackbone } from '../../src/backbone/load';
import { extractDataset, loadSplit, readListing } from '../../src/cache';
import { scanDataset } from '../../src/dataset';
import { fitFromCache } from '../../src/linear/fitCache';
import { evaluateOnCache } from '../../src/report/evaluate';
import { compareCodeUnits } from '../../src/dataset/names';
import { photos, tmpDir } from '../support/data';
import { writeTinyBackbone } from '../support/tinyBackbone';

function buildDataset(root: string): void {
  for (const split of ['train', 'val'])
    for (const cls of ['airplane', 'car']) {
      const dir = path.join(root, split, cls);
      fs.mkdirSync(dir, { recursive: true });
      for (const p of photos(split, cls, split === 'train' ? 4 : 2))
        fs.copyFileSync(p, path.join(dir, path.basename(p)));
    }
}

describe('a cache filled in pieces', () => {
  const work = tmpDir('extract-order');
  const root = path.join(work, 'data');
  buildDataset(root);
  let backbone: Awaited<ReturnType<typeof openBackbone>>;

  beforeAll(async () => {
    backbone = await openBackbone(await prepareBackbone({ model: writeTinyBackbone(work) }), {
      device: 'cpu',
      threads: 1,
    });
  });
  afterAll(() => backbone.close());

  test('--shard 0/2 then 1/2 into one cache lists every image', async () => {
    const dataset = await scanDataset(root);
    const cacheDir = path.join(work, 'sharded');
    const first = await extractDataset(dataset, backbone, { cacheDir, shard: { index: 0, count: 2 }, workers: 0 });
    const second = await extractDataset(dataset, backbone, { cacheDir, shard: { index: 1, count: 2 }, workers: 0 });
    expect(first.extracted + second.extracted).toBe(dataset.items.length);
    expect(second.fromCache).toBe(first.extracted); // the first shard's rows, listed again, not dropped
    expect(second.otherShard).toBe(0);
    expect(
      readListing(cacheDir)!
        .map((e) => e.relPath)
        .sort(),
    ).toEqual(dataset.items.map((i) => i.relPath).sort());
    expect(loadSplit(cacheDir, 'train').y.length).toBe(8);
  });

  test('rows come back in relPath order, the same for a resumed run as for a fresh one', async () => {
    const dataset = await scanDataset(root);
    const fresh = path.join(work, 'fresh');
    await extractDataset(dataset, backbone, { cacheDir: fresh, workers: 0 });
    // Resumed: the later half first, then everything (cache hits are listed before the fresh rows of that run).
    const resumed = path.join(work, 'resumed');
    const later = dataset.items.slice(dataset.items.length >> 1);
    await extractDataset({ ...dataset, items: later }, backbone, { cacheDir: resumed, workers: 0 });
    await extractDataset(dataset, backbone, { cacheDir: resumed, workers: 0 });
    for (const split of ['train', 'val']) {
      const a = loadSplit(fresh, split);
      const b = loadSplit(resumed, split);
      expect(b.relPaths).toEqual([...a.relPaths].sort(compareCodeUnits));
      expect(b.relPaths).toEqual(a.relPaths);
      expect(Array.from(b.y)).toEqual(Array.from(a.y));
      expect(Array.from(b.X)).toEqual(Array.from(a.X));
    }
  });

  test('a listing that cannot be written fails the run with a sentence, keeps the stored rows and releases the lock', async () => {
    const dataset = await scanDataset(root);
    const cacheDir = path.join(work, 'unreadable-listing');
    const half = dataset.items.slice(0, 4);
    await extractDataset({ ...dataset, items: half }, backbone, { cacheDir, workers: 0 });
    fs.rmSync(path.join(cacheDir, 'dataset.jsonl'));
    fs.mkdirSync(path.join(cacheDir, 'dataset.jsonl')); // a folder where the listing belongs
    await expect(extractDataset(dataset, backbone, { cacheDir, workers: 0 })).rejects.toThrow(
      /Cannot replace .*dataset\.jsonl \(EISDIR\): a folder is in its place; move it away/,
    );
    fs.rmSync(path.join(cacheDir, 'dataset.jsonl'), { recursive: true });
    const retry = await extractDataset(dataset, backbone, { cacheDir, workers: 0 });
    // Every row the failed run computed was stored: the retry only lists them.
    expect([retry.fromCache, retry.extracted]).toEqual([dataset.items.length, 0]);
  });

  test('evaluate without a split refuses a cache that has splits but no test; a named split is scored', async () => {
    const cacheDir = path.join(work, 'fresh');
    const { classifier } = await fitFromCache(cacheDir, { solver: 'svm', C: 1, scale: 'none' });
    expect(() => evaluateOnCache(classifier, cacheDir)).toThrow(
      /has splits train, val but no test split; pass split val to score one of them, or extract a test split/,
    );
    const val = evaluateOnCache(classifier, cacheDir, 'val');
    expect(val.split).toBe('val');
    expect(val.yTrue.length).toBe(4);
  });
});
