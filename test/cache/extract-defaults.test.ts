/**
 * Issue 10: a library call of extractDataset with no batch size or worker count does what `convfeat extract` does:
 * batches of 8 on CPU (64 on CUDA) and the CLI's preprocessing workers (cores − 1, at most 4 on CPU), not one worker.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openBackbone, prepareBackbone } from '../../src/backbone/load';
import { extractDataset } from '../../src/cache';
import { extractDefaults } from '../../src/cache/extract';
import { scanDataset } from '../../src/dataset';
import { defaultPreprocessThreads } from '../../src/preprocess';
import { PreprocessPool } from '../../src/preprocess/pool';
import { feedPoolOptions } from '../../src/cache/extract-feed';
import { photos, tmpDir } from '../support/data';
import { writeTinyBackbone } from '../support/tinyBackbone';

describe('extractDataset defaults', () => {
  test('workers and batch size follow the provider as the CLI chooses them', () => {
    // What the CLI computes on this machine (commands/extract.ts: defaultPreprocessThreads(onGpu)).
    expect(extractDefaults('cpu')).toEqual({ batchSize: 8, workers: defaultPreprocessThreads(false) });
    expect(extractDefaults('cuda:1')).toEqual({ batchSize: 64, workers: defaultPreprocessThreads(true) });
    // And on other machines: cores − 1, at most 4 beside CPU inference, at least 1.
    expect(extractDefaults('cpu', 6)).toEqual({ batchSize: 8, workers: 4 });
    expect(extractDefaults('cuda', 6)).toEqual({ batchSize: 64, workers: 5 });
    expect(extractDefaults('cpu', 2)).toEqual({ batchSize: 8, workers: 1 });
    expect(extractDefaults('cpu', 1)).toEqual({ batchSize: 8, workers: 1 });
    expect(os.availableParallelism()).toBeGreaterThan(0);
  });

  test('a run without options infers in batches of the default size', async () => {
    const work = tmpDir('extract-defaults');
    const root = path.join(work, 'data');
    const dir = path.join(root, 'car');
    fs.mkdirSync(dir, { recursive: true });
    for (const p of photos('train', 'car', 19)) fs.copyFileSync(p, path.join(dir, path.basename(p)));
    const backbone = await openBackbone(await prepareBackbone({ model: writeTinyBackbone(work) }), {
      device: 'cpu',
      threads: 1,
    });
    const sizes: number[] = [];
    const counted = {
      ...backbone,
      embed: (batch: Float32Array, n: number) => (sizes.push(n), backbone.embed(batch, n)),
    };
    try {
      const summary = await extractDataset(await scanDataset(root), counted, { cacheDir: path.join(work, 'cache') });
      expect(summary.extracted).toBe(19);
      expect(sizes).toEqual([8, 8, 3]);
    } finally {
      await backbone.close();
    }
  });

  test("a caller's pool is used as given, and one that is closed or not a function is refused before any work", async () => {
    const work = tmpDir('extract-pool');
    const root = path.join(work, 'data', 'car');
    fs.mkdirSync(root, { recursive: true });
    for (const p of photos('train', 'car', 3)) fs.copyFileSync(p, path.join(root, path.basename(p)));
    const backbone = await openBackbone(await prepareBackbone({ model: writeTinyBackbone(work) }), {
      device: 'cpu',
      threads: 1,
    });
    const pool = new PreprocessPool(feedPoolOptions(backbone.transform, 1, 8));
    try {
      const dataset = await scanDataset(path.dirname(root));
      const first = await extractDataset(dataset, backbone, { cacheDir: path.join(work, 'c1'), pool: () => pool });
      expect(first).toMatchObject({ extracted: 3, failed: 0, preprocessing: 'workers' });
      expect(pool.isClosed).toBe(false); // the caller's, left open for its next run

      await expect(
        extractDataset(dataset, backbone, { cacheDir: path.join(work, 'c2'), pool: 42 as never }),
      ).rejects.toThrow('Expected pool to be a function returning the PreprocessPool to use but received 42');
      await pool.close();
      await expect(
        extractDataset(dataset, backbone, { cacheDir: path.join(work, 'c3'), pool: () => pool }),
      ).rejects.toThrow('The preprocessing pool given as pool is closed; pass an open one');
      // refused before anything was stored, and the cache lock released: the same folder works with no pool
      const again = await extractDataset(dataset, backbone, { cacheDir: path.join(work, 'c3') });
      expect(again).toMatchObject({ extracted: 3, fromCache: 0 });
    } finally {
      await pool.close();
      await backbone.close();
    }
  });
});
