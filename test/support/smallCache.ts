/**
 * A small cache of real Mini Natural Images photos embedded by the real ResNet50: `perSplit` photos of every class
 * in each split. Small enough for seconds of extraction, real enough that probabilities and charts mean something.
 */
import * as fs from 'fs';
import * as path from 'path';
import { openBackbone, prepareBackbone } from '../../src/backbone/load';
import { extractDataset } from '../../src/cache';
import { scanDataset } from '../../src/dataset';
import { MINI_NATURAL_IMAGES, photos } from './data';
import { realResnet50, STORE_DIR } from './model';

export const CLASSES = fs.readdirSync(path.join(MINI_NATURAL_IMAGES, 'train')).sort();

/** Copies the photos into work/data/<split>/<class>/ and extracts them into work/cache; returns the cache dir. */
export async function buildSmallCache(work: string, perSplit: Record<string, number>): Promise<string> {
  await realResnet50(); // fails loudly if the model cannot be fetched: no silent skip
  const root = path.join(work, 'data');
  for (const [split, n] of Object.entries(perSplit))
    for (const cls of CLASSES) {
      const dir = path.join(root, split, cls);
      fs.mkdirSync(dir, { recursive: true });
      for (const p of photos(split, cls, n)) fs.copyFileSync(p, path.join(dir, path.basename(p)));
    }
  const prepared = await prepareBackbone({ model: 'resnet50', storeDir: STORE_DIR });
  const backbone = await openBackbone(prepared, { device: 'cpu' });
  const cacheDir = path.join(work, 'cache');
  try {
    await extractDataset(await scanDataset(root), backbone, { cacheDir, batchSize: 8 });
  } finally {
    await backbone.close();
  }
  return cacheDir;
}
