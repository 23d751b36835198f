/**
 * Deep features vs traditional computer vision (issue 15): every classical backbone and the frozen ResNet50 through
 * the same pipeline — extract all splits into a fresh cache, fit svm and softmax with C chosen on val (features
 * unscaled, the CLI default), score test — plus the learning curve (`advise`, val accuracy per fraction of train) of
 * each, so the table says how many labelled photos per class each kind of feature needs.
 *
 * extract ms/img = wall time of the extraction run / images computed (read, decode, resize + crop, features; for
 * ResNet50 the fp32 network on CPU), on however many cores the machine has.
 *
 * Usage: node <compiled>/bench/classical/compare.js [--only hog,color-hist,orb-bow,resnet50] [--limit-per-class K]
 *        [--words 256] [--json FILE]
 */
import * as fs from 'fs';
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
const { advise } = fromDist<typeof import('../../src/report/advise')>('report/advise');
const { fitCodebookFromDataset } =
  fromDist<typeof import('../../src/backbone/classical/fit')>('backbone/classical/fit');
const { writeCodebook } =
  fromDist<typeof import('../../src/backbone/classical/codebook')>('backbone/classical/codebook');

async function main(): Promise<void> {
  const only = (flag('only') ?? 'color-hist,hog,orb-bow,resnet50').split(',');
  const limit = flag('limit-per-class') === undefined ? undefined : intFlag('limit-per-class', 1);
  const words = intFlag('words', 256, 2);
  const jsonOut = flag('json');
  console.log(machineLine());
  const full = await scanDataset(requireDataRoot());
  const dataset: Dataset = { ...full, items: firstPerClass(full.items, limit), problems: [] };
  const work = tempDir('convfeat-bench-classical-');
  const rows: Record<string, unknown>[] = [];
  try {
    for (const name of only) {
      let model = name === 'resnet50' ? 'resnet50' : `classical:${name}`;
      let codebookSeconds: number | null = null;
      if (name === 'orb-bow') {
        const t = Date.now();
        const cb = await fitCodebookFromDataset(dataset, { words });
        codebookSeconds = (Date.now() - t) / 1000;
        model = path.join(work, 'orb-bow.json');
        writeCodebook(model, cb);
        console.log(
          `orb-bow codebook: ${words} words from ${cb.fittedOn.descriptors} descriptors of ${cb.fittedOn.images} train images, ${codebookSeconds.toFixed(1)} s`,
        );
      }
      const cacheDir = path.join(work, `cache-${name}`);
      const prepared = await prepareBackbone({ model });
      const backbone = await openBackbone(prepared, { device: 'cpu' });
      const t0 = Date.now();
      const ex = await extractDataset(dataset, backbone, { cacheDir, batchSize: 8, workers: 1 });
      const extractSeconds = (Date.now() - t0) / 1000;
      await backbone.close();
      const msPerImage = (1000 * extractSeconds) / Math.max(1, ex.extracted);
      const test = loadSplit(cacheDir, 'test');
      const solvers: Record<string, unknown> = {};
      for (const solver of ['svm', 'softmax'] as const) {
        const r = await fitFromCache(cacheDir, { solver, scale: 'none' });
        const predicted = r.classifier.predict(test.X, test.dim);
        const acc = accuracy(test.y, predicted);
        solvers[solver] = { testAccuracy: acc, C: r.classifier.C, valAccuracy: r.valAccuracy, fitSeconds: r.seconds };
        console.log(
          `${prepared.name} ${solver}: test ${(100 * acc).toFixed(2)} % (C ${r.classifier.C.toPrecision(3)}, val ${(100 * (r.valAccuracy ?? 0)).toFixed(2)} %, fit ${r.seconds.toFixed(1)} s)`,
        );
      }
      const curve = await advise(cacheDir, { solver: 'svm', scale: 'none' });
      const points = curve.points.map((p) => ({
        fraction: p.fraction,
        perClass: p.minPerClass,
        valAccuracy: p.mean,
        std: p.std,
      }));
      console.log(
        `${prepared.name}: ${backbone.identity.dim}-d, ${ex.extracted} images in ${extractSeconds.toFixed(1)} s = ${msPerImage.toFixed(1)} ms/img; learning curve (svm, val) ${points.map((p) => `${p.perClass}/class ${(100 * p.valAccuracy).toFixed(1)} %`).join(', ')}`,
      );
      rows.push({
        features: prepared.name,
        dim: backbone.identity.dim,
        extractMsPerImage: msPerImage,
        extracted: ex.extracted,
        failed: ex.failed,
        codebookSeconds,
        solvers,
        learningCurve: points,
      });
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  if (jsonOut)
    writeSummary(jsonOut, {
      date: new Date().toISOString(),
      machine: machineLine(),
      limitPerClass: limit ?? null,
      words,
      rows,
    });
  console.log(machineLine());
}

runMain(main);
