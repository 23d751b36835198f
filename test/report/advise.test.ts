/**
 * The learning curve and its advice: stratified nested subsets, val or CV scoring, reproducibility, the refusals,
 * the decision-matrix rules on hand-made curves, and the plot.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { EmbeddingStore, ListingWriter } from '../../src/cache';
import { advise, learningCurve } from '../../src/report/advise';
import { formatAdvice, writeAdvicePlot } from '../../src/report/adviceChart';
import { recommend, slopePerDoubling } from '../../src/report/recommend';
import { ConvfeatError, UsageError } from '../../src/util/errors';
import { tmpDir } from '../support/data';
import { seededRandom } from '../support/graphs';

const K = 4;
const DIM = 24;
const CLASSES = ['ant', 'bee', 'cow', 'dog'];

/** Noisy blobs: hard enough that 5 % of the data scores visibly worse than all of it. */
function blobs(n: number, seed: number, noise = 2.2): { X: Float32Array; y: Int32Array } {
  const c = seededRandom(5);
  const centres = Float32Array.from({ length: K * DIM }, () => c() * 2 - 1);
  const rand = seededRandom(seed);
  const X = new Float32Array(n * DIM);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % K;
    for (let j = 0; j < DIM; j++) X[i * DIM + j] = centres[y[i] * DIM + j] + (rand() + rand() + rand() - 1.5) * noise;
  }
  return { X, y };
}

describe('learningCurve', () => {
  const train = { ...blobs(240, 1), classes: CLASSES, dim: DIM };
  const val = blobs(160, 2);

  test('scores nested stratified subsets on val; more data scores better; the same seeds give the same curve', async () => {
    const a = await learningCurve(train, val, { seeds: 3, threads: 1 });
    expect(a.evaluation).toEqual({ method: 'val', size: 160 });
    expect(a.points.map((p) => p.fraction)).toEqual([0.05, 0.1, 0.2, 0.5, 1]);
    // 60 per class: round(0.05·60) = 3, 6, 12, 30, 60 per class.
    expect(a.points.map((p) => p.trainSize)).toEqual([12, 24, 48, 120, 240]);
    expect(a.points.map((p) => p.minPerClass)).toEqual([3, 6, 12, 30, 60]);
    for (const p of a.points) expect(p.accuracies).toHaveLength(3);
    expect(a.points[4].mean).toBeGreaterThan(a.points[0].mean + 0.05);
    expect(a.points[0].std).toBeGreaterThan(0); // different subsets per seed
    expect(a.C).toBeGreaterThan(0);
    expect(a.perClass).toEqual({ min: 60, median: 60, max: 60 });
    const b = await learningCurve(train, val, { seeds: 3, threads: 1 });
    expect(b.points).toEqual(a.points);
    const text = formatAdvice(a);
    expect(text).toContain(`${(100 * a.points[4].mean).toFixed(2)} %`);
    expect(text).toMatch(/median 60 per class/);
  });

  test('without val it scores by stratified k-fold CV, never fewer than one image per class', async () => {
    const small = { ...blobs(40, 3), classes: CLASSES, dim: DIM }; // 10 per class
    const a = await learningCurve(small, undefined, { seeds: 2, folds: 5, fractions: [0.05, 0.5, 1], threads: 1 });
    expect(a.evaluation).toEqual({ method: 'cv', folds: 5 });
    expect(a.points[0].minPerClass).toBe(1); // round(0.05·8) = 0 → at least 1
    expect(a.points[2].trainSize).toBe(32); // 4 of 5 folds of 40
    for (const p of a.points) expect(p.accuracies).toHaveLength(2);
  });

  test('a class with one training image, one class, or bad options are refused with a sentence', async () => {
    const X = new Float32Array(9 * DIM).map((_, i) => (i % 7) / 7);
    // "dog" has no image (ignored); "cow" has one (refused).
    const oneCow = Int32Array.from([0, 0, 0, 1, 1, 1, 2, 0, 1]);
    await expect(learningCurve({ X, y: oneCow, classes: CLASSES, dim: DIM }, undefined)).rejects.toThrow(
      /Class "cow" has only 1 training image; a learning curve needs at least 2 per class/,
    );
    await expect(learningCurve({ X, y: new Int32Array(9), classes: CLASSES, dim: DIM }, undefined)).rejects.toThrow(
      ConvfeatError,
    );
    await expect(learningCurve(train, val, { fractions: [0.5] })).rejects.toThrow(UsageError);
    await expect(learningCurve(train, val, { fractions: [0, 1] })).rejects.toThrow(
      /Expected fractions to be a list of at least two numbers in \(0, 1\]/,
    );
    await expect(learningCurve(train, val, { solver: 'knn' as 'svm' })).rejects.toThrow(/Expected solver/);
  });
});

describe('recommend', () => {
  const curve = (means: number[], sizes = [50, 100, 200, 500, 1000]) =>
    means.map((mean, i) => ({ mean, trainSize: sizes[i], fraction: sizes[i] / sizes[sizes.length - 1] }));

  test('the slope is per doubling over the last two points', () => {
    expect(slopePerDoubling(curve([0.5, 0.6, 0.7, 0.8, 0.9]))).toBeCloseTo(10, 6); // 500 → 1000 is one doubling, +10 points
    expect(slopePerDoubling(curve([0.9, 0.9]), 2)).toBe(0);
  });

  test('small data, high flat accuracy: keep the fixed features, more data unlikely to help', () => {
    const r = recommend(curve([0.95, 0.97, 0.98, 0.99, 0.992]), { min: 120, median: 128, max: 130 });
    expect(r).toMatchObject({ size: 'small', domain: 'similar', moreData: 'unlikely to help', fineTune: 'not needed' });
    expect(r.lines.join(' ')).toMatch(/Keep the fixed features: small data \(128 images per class/);
    expect(r.lines.join(' ')).toMatch(/99\.2 %/);
  });

  test('a steep curve says more data is likely to help, with the gain of the last doubling', () => {
    const r = recommend(curve([0.6, 0.7, 0.8, 0.85, 0.9]), { min: 90, median: 100, max: 110 });
    expect(r.moreData).toBe('likely to help');
    expect(r.lines.join(' ')).toMatch(/last doubling added \+5\.00 points.*about 2000 images/);
  });

  test('large data and low accuracy: fine-tuning is likely to pay off; small data and low accuracy: earlier layers first', () => {
    const large = recommend(curve([0.55, 0.6, 0.62, 0.63, 0.635]), { min: 1500, median: 2000, max: 2500 });
    expect(large).toMatchObject({
      size: 'large',
      domain: 'dissimilar',
      fineTune: 'likely to help',
      moreData: 'unlikely to help',
    });
    expect(large.lines.join(' ')).toMatch(/fine-tuning is likely to pay off.*plateau at 63\.5 %/);
    const small = recommend(curve([0.55, 0.6, 0.62, 0.63, 0.635]), { min: 40, median: 50, max: 60 });
    expect(small.fineTune).toBe('may help');
    expect(small.lines.join(' ')).toMatch(/earlier layer \(--layer\) or another backbone/);
  });
});

describe('advise on a cache', () => {
  /** A real cache on disk: the store holds the rows, the listing says split and label of each. */
  function makeCache(withVal: boolean): string {
    const dir = path.join(tmpDir('advise'), 'cache');
    const store = EmbeddingStore.open(dir, {
      mode: 'write',
      identity: { model: 'tiny', modelFingerprint: 'f'.repeat(64), preprocessFingerprint: 'p0', dim: DIM },
    });
    const listing = new ListingWriter(dir);
    const add = (split: 'train' | 'val', data: { X: Float32Array; y: Int32Array }): void => {
      const hashes = Array.from(data.y, (_, i) => createHash('sha256').update(`${split}-${i}`).digest('hex'));
      store.putBatch(hashes, data.X);
      hashes.forEach((hash, i) => {
        const label = CLASSES[data.y[i]];
        listing.add({
          relPath: `${split}/${label}/${i}.jpg`,
          path: `/data/${split}/${label}/${i}.jpg`,
          label,
          split,
          hash,
        });
      });
    };
    add('train', blobs(120, 7));
    if (withVal) add('val', blobs(80, 8));
    listing.commit();
    store.close();
    return dir;
  }

  test('reads train and val from the cache and writes the plot', async () => {
    const dir = makeCache(true);
    const advice = await advise(dir, { seeds: 2, fractions: [0.1, 0.5, 1], threads: 1 });
    expect(advice.evaluation).toEqual({ method: 'val', size: 80 });
    expect(advice.trainSize).toBe(120);
    expect(advice.classes).toEqual(CLASSES);
    const file = path.join(path.dirname(dir), 'curve.png');
    await writeAdvicePlot(file, advice);
    const meta = await sharp(file).metadata();
    expect(meta.format).toBe('png');
    expect(meta.width).toBeGreaterThan(800);
    expect(meta.height).toBeGreaterThan(400);
    expect(fs.readdirSync(path.dirname(file)).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  test('falls back to CV without a val split', async () => {
    const advice = await advise(makeCache(false), { seeds: 1, fractions: [0.2, 1], threads: 1 });
    expect(advice.evaluation.method).toBe('cv');
  });
});
