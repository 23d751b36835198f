/**
 * The whole pipeline with the real converted ResNet50 on real photos: manifest model → cut at avg_pool → extract
 * train/val/test into a cache → fit on train with C chosen on val → evaluate on test. Small (4 train, 2 val, 3 test
 * photos per class of all 8 classes) so it runs in seconds, but the embeddings are the real 2,048-d ones, so a broken
 * cut, preprocessing or row alignment shows as a collapse of accuracy.
 */
import * as fs from 'fs';
import * as path from 'path';
import { openBackbone, prepareBackbone } from '../../src/backbone/load';
import { extractDataset, loadSplit } from '../../src/cache';
import { scanDataset } from '../../src/dataset';
import { fitFromCache } from '../../src/linear/fitCache';
import { evaluateOnCache } from '../../src/report/evaluate';
import { MINI_NATURAL_IMAGES, photos, tmpDir } from '../support/data';
import { realResnet50, STORE_DIR } from '../support/model';

const CLASSES = fs.readdirSync(path.join(MINI_NATURAL_IMAGES, 'train')).sort();
const PER_SPLIT = { train: 4, val: 2, test: 3 } as const;

describe('real ResNet50, end to end', () => {
  const work = tmpDir('resnet50-e2e');
  const root = path.join(work, 'data');

  beforeAll(async () => {
    await realResnet50(); // fails loudly if the model cannot be fetched: no silent skip
    for (const [split, n] of Object.entries(PER_SPLIT))
      for (const cls of CLASSES) {
        const dir = path.join(root, split, cls);
        fs.mkdirSync(dir, { recursive: true });
        for (const p of photos(split, cls, n)) fs.copyFileSync(p, path.join(dir, path.basename(p)));
      }
  });

  test('extract → fit (C on val) → evaluate on test gives 2,048-d embeddings and a working classifier', async () => {
    expect(CLASSES).toHaveLength(8);
    const prepared = await prepareBackbone({ model: 'resnet50', storeDir: STORE_DIR });
    expect(prepared.layer).toBe('avg_pool');
    const backbone = await openBackbone(prepared, { device: 'cpu' });
    const cacheDir = path.join(work, 'cache');
    const dataset = await scanDataset(root);
    let summary;
    try {
      summary = await extractDataset(dataset, backbone, { cacheDir, batchSize: 8 });
    } finally {
      await backbone.close();
    }
    expect(summary.failed).toBe(0);
    expect(summary.extracted + summary.duplicates).toBe(8 * (4 + 2 + 3));

    const train = loadSplit(cacheDir, 'train');
    expect(train.dim).toBe(2048);
    expect(train.y.length).toBe(32);
    // avg_pool follows a ReLU: every value is ≥ 0, and a real photo's embedding is far from zero.
    expect(Math.min(...train.X)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...train.X.subarray(0, 2048))).toBeGreaterThan(1);

    const fit = await fitFromCache(cacheDir, { solver: 'svm', scale: 'none' });
    expect(fit.cSelection).toBe('val');
    expect(fit.trainAccuracy).toBe(1);
    const test = evaluateOnCache(fit.classifier, cacheDir); // test: the default split of a cache with splits
    expect(test.split).toBe('test');
    expect(test.yTrue.length).toBe(24);
    // 4 photos per class are enough for these well-separated classes; chance is 12.5 %.
    expect(test.metrics.accuracy).toBeGreaterThanOrEqual(0.85);
  });
});
