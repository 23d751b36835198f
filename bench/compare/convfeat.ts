/**
 * convfeat's side of the fine-tuning comparison (issue 6), measured the way a user would run it on this machine:
 * extract train + val into a fresh cache, fit `svm` and `softmax` (C chosen on val, features unscaled, as the demo),
 * then embed and score the test split. Train wall time = extracting train + val + the fit (the cache is what
 * fine-tuning's epochs replace); inference per image = embedding the test photos (read, decode, preprocess, ResNet50)
 * plus the linear head, end to end, divided by their number. Writes a JSON summary for bench/compare/table.ts.
 *
 * Usage: node <compiled>/bench/compare/convfeat.js [--threads N] [--batch 8] [--limit-per-class K (smoke)]
 *        [--json FILE]
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Dataset } from '../../src/dataset';
import {
  firstPerClass,
  flag,
  fromDist,
  intFlag,
  machineLine,
  requireDataRoot,
  runMain,
  tempDir,
  writeSummary,
} from '../extract/common';

const { openBackbone, prepareBackbone } = fromDist<typeof import('../../src/backbone/load')>('backbone/load');
const { extractDataset } = fromDist<typeof import('../../src/cache/extract')>('cache/extract');
const { loadSplit } = fromDist<typeof import('../../src/cache/load')>('cache/load');
const { scanDataset } = fromDist<typeof import('../../src/dataset')>('dataset/index');
const { fitFromCache } = fromDist<typeof import('../../src/linear/fitCache')>('linear/fitCache');
const { accuracy } = fromDist<typeof import('../../src/report/metrics')>('report/metrics');

async function main(): Promise<void> {
  const threads = intFlag('threads', os.availableParallelism());
  const batch = intFlag('batch', 8);
  const limit = flag('limit-per-class') === undefined ? undefined : intFlag('limit-per-class', 1);
  const jsonOut = flag('json');
  console.log(machineLine());
  const full = await scanDataset(requireDataRoot());
  const items = firstPerClass(full.items, limit);
  const part = (splits: string[]): Dataset => ({
    ...full,
    items: items.filter((i) => splits.includes(i.split ?? '')),
    problems: [],
  });
  const work = tempDir('convfeat-bench-compare-');
  const cacheDir = path.join(work, 'cache');
  try {
    const t0 = Date.now();
    const prepared = await prepareBackbone({ model: 'resnet50' });
    const backbone = await openBackbone(prepared, { device: 'cpu', threads });
    const trainVal = part(['train', 'val']);
    const ex = await extractDataset(trainVal, backbone, { cacheDir, batchSize: batch, splits: ['train', 'val'] });
    const extractSeconds = (Date.now() - t0) / 1000;
    console.log(
      `extract train + val: ${trainVal.items.length} photos in ${extractSeconds.toFixed(1)} s (${ex.extracted} computed, ${ex.duplicates + ex.fromCache} duplicates, ${ex.failed} failed; includes loading the model)`,
    );

    const fits: Record<
      string,
      {
        seconds: number;
        C: number;
        valAccuracy: number | null;
        classifier: import('../../src/linear').LinearClassifier;
      }
    > = {};
    for (const solver of ['svm', 'softmax'] as const) {
      const r = await fitFromCache(cacheDir, { solver, scale: 'none' });
      fits[solver] = { seconds: r.seconds, C: r.classifier.C, valAccuracy: r.valAccuracy, classifier: r.classifier };
      console.log(
        `fit ${solver}: ${r.seconds.toFixed(2)} s, C ${r.classifier.C.toPrecision(3)} on val (val accuracy ${((r.valAccuracy ?? 0) * 100).toFixed(2)} %)`,
      );
    }

    const test = part(['test']);
    const t1 = Date.now();
    const tx = await extractDataset(test, backbone, { cacheDir, batchSize: batch, splits: ['test'] });
    const testExtractSeconds = (Date.now() - t1) / 1000;
    const data = loadSplit(cacheDir, 'test');
    const results: Record<string, unknown> = {};
    for (const [solver, fit] of Object.entries(fits)) {
      const t2 = Date.now();
      const predicted = fit.classifier.predict(data.X, data.dim);
      const predictSeconds = (Date.now() - t2) / 1000;
      const correct = Math.round(accuracy(data.y, predicted) * data.y.length);
      const msPerImage = (1000 * (testExtractSeconds + predictSeconds)) / data.y.length;
      results[solver] = {
        trainableParameters: data.dim * fit.classifier.classes.length + fit.classifier.classes.length,
        testAccuracy: correct / data.y.length,
        testCorrect: correct,
        testImages: data.y.length,
        trainWallSeconds: extractSeconds + fit.seconds,
        extractSeconds,
        fitSeconds: fit.seconds,
        C: fit.C,
        valAccuracy: fit.valAccuracy,
        inferenceMsPerImage: msPerImage,
      };
      console.log(
        `${solver}: test accuracy ${((100 * correct) / data.y.length).toFixed(2)} % (${correct}/${data.y.length}); train wall ${(extractSeconds + fit.seconds).toFixed(1)} s; inference ${msPerImage.toFixed(1)} ms/image end to end`,
      );
    }
    console.log(
      `test embedding: ${test.items.length} photos in ${testExtractSeconds.toFixed(1)} s (${tx.extracted} computed, ${tx.fromCache + tx.duplicates} already in the cache)`,
    );
    await backbone.close();
    if (jsonOut) {
      const summary = {
        date: new Date().toISOString(),
        machine: machineLine(),
        threads,
        batch,
        limitPerClass: limit ?? null,
        images: { trainVal: trainVal.items.length, test: data.y.length },
        testExtractSeconds,
        solvers: results,
      };
      writeSummary(jsonOut, summary);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  console.log(machineLine());
}

runMain(main);
