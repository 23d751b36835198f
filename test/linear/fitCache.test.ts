/**
 * fitFromCache's refusals: a class the train split lacks cannot be learned, even when the val split has images of it.
 * The cache is a real extraction (real photos, the tiny backbone) so the listing is what users' caches hold.
 */
import * as fs from 'fs';
import * as path from 'path';
import { openBackbone, prepareBackbone } from '../../src/backbone/load';
import { extractDataset, loadSplit } from '../../src/cache';
import { scanDataset } from '../../src/dataset';
import { fitFromCache } from '../../src/linear/fitCache';
import { ConvfeatError, UsageError } from '../../src/util/errors';
import { photos, tmpDir } from '../support/data';
import { writeTinyBackbone } from '../support/tinyBackbone';

describe('fitFromCache', () => {
  const work = tmpDir('fit-cache');
  const cacheDir = path.join(work, 'cache');

  beforeAll(async () => {
    // train/ has airplane and car; val/ has those and fruit as well.
    const root = path.join(work, 'data');
    for (const [split, cls, n] of [
      ['train', 'airplane', 3],
      ['train', 'car', 3],
      ['val', 'airplane', 2],
      ['val', 'car', 2],
      ['val', 'fruit', 2],
    ] as const) {
      const dir = path.join(root, split, cls);
      fs.mkdirSync(dir, { recursive: true });
      for (const p of photos(split, cls, n)) fs.copyFileSync(p, path.join(dir, path.basename(p)));
    }
    const backbone = await openBackbone(await prepareBackbone({ model: writeTinyBackbone(work) }), {
      device: 'cpu',
      threads: 1,
    });
    try {
      const summary = await extractDataset(await scanDataset(root), backbone, { cacheDir, workers: 0 });
      expect(summary).toMatchObject({ total: 12, extracted: 12, failed: 0 });
    } finally {
      await backbone.close();
    }
  });

  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  test('refuses a cache whose val split has a class the train split lacks, naming the class', async () => {
    // The cache is as described: fruit only in val.
    expect(loadSplit(cacheDir, 'train').classes).toEqual(['airplane', 'car', 'fruit']);
    expect(Array.from(new Set(loadSplit(cacheDir, 'train').y)).sort()).toEqual([0, 1]);
    expect(Array.from(new Set(loadSplit(cacheDir, 'val').y)).sort()).toEqual([0, 1, 2]);

    const refused = fitFromCache(cacheDir, { solver: 'svm', C: 1, scale: 'none' });
    await expect(refused).rejects.toThrow(ConvfeatError);
    await expect(refused).rejects.toThrow(
      /^Class fruit has images in the cache but none in the train split; a classifier cannot learn it/,
    );
    // Leaving val out does not make the class learnable: the refusal stands.
    await expect(fitFromCache(cacheDir, { useVal: false })).rejects.toThrow(
      /has images in the cache but none in the train split/,
    );
  });

  test('options are checked at the door, before the cache is read, naming the option', async () => {
    // Other options with the real cache: the option's sentence, not the class refusal that reading it would give.
    await expect(fitFromCache(cacheDir, { scale: 'zscore' as never })).rejects.toThrow(
      new UsageError('Expected scale to be one of "l2", "standard", "none" but received "zscore"'),
    );
    await expect(fitFromCache(cacheDir, { C: 0 })).rejects.toThrow(
      new UsageError('Expected C to be a positive finite number but received 0'),
    );
    await expect(fitFromCache(cacheDir, { exclude: ['a.jpg'] as never })).rejects.toThrow(
      new UsageError('Expected exclude to be a Set of relPaths or paths but received ["a.jpg"]'),
    );
    await expect(fitFromCache('')).rejects.toThrow(
      new UsageError('Expected cacheDir to be a cache directory but received ""'),
    );
  });
});
