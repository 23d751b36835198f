/**
 * Preprocessing throughput on real photos (decode + Pillow-exact resize + crop + normalise), in-process on one
 * thread and through PreprocessPool with 1 and 2 worker threads. Photos are read into memory first: disk is not
 * measured. Each figure is the best of 3 runs; CPU time per image is
 * printed beside wall time because it hardly depends on what else runs on the machine. Usage: node <compiled>/bench/preprocess/throughput.js [N=200]
 */
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import {
  decodeImage,
  preprocess,
  preprocessDecoded,
  PreprocessPool,
  TORCHVISION_IMAGENET,
  type TransformOptions,
} from '../../src/preprocess';
import { intArg, runMain } from '../extract/common';
import { DATA_ROOT, samplePhotos } from './common';

const OPTS: TransformOptions = { spec: TORCHVISION_IMAGENET, exif: 'ignore' };

/** A Buffer that owns its memory, so the pool can move it to a worker. */
function owned(bytes: Buffer): Buffer {
  const copy = Buffer.from(new ArrayBuffer(bytes.length));
  bytes.copy(copy);
  return copy;
}

const REPEATS = 3;

/**
 * Best of REPEATS runs: on a shared machine the slowest runs measure the neighbours, not the code. CPU time (all
 * threads of this process) per image is printed too: it hardly depends on the machine's load.
 */
async function timed(label: string, n: number, fn: () => Promise<void>): Promise<number> {
  let best = Infinity;
  let bestCpu = Infinity;
  for (let r = 0; r < REPEATS; r++) {
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    await fn();
    const c = process.cpuUsage(c0);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
    bestCpu = Math.min(bestCpu, (c.user + c.system) / 1e6);
  }
  console.log(
    `${label.padEnd(40)} ${(n / best).toFixed(1).padStart(7)} img/s  ${((best / n) * 1000).toFixed(2)} ms/img wall` +
      `  ${((bestCpu / n) * 1000).toFixed(2)} ms/img CPU`,
  );
  return n / best;
}

async function poolRun(threads: number, files: Buffer[]): Promise<void> {
  const pool = new PreprocessPool({ threads, opts: OPTS });
  if (pool.mode !== 'workers') throw new Error(`pool runs in-process: ${pool.fallbackReason}`);
  // Start the workers and warm their JIT.
  await Promise.all(files.slice(0, 60 * threads).map((f) => pool.run(owned(f))));
  await timed(`pool, ${threads} worker thread(s)`, files.length, async () => {
    await Promise.all(files.map((f) => pool.run(owned(f))));
  });
  await pool.close();
}

async function main(): Promise<void> {
  const n = intArg('N (first argument)', process.argv[2], 200);
  const files = samplePhotos(n).map((rel) => fs.readFileSync(path.join(DATA_ROOT, rel)));
  const mb = files.reduce((a, b) => a + b.length, 0) / 1e6;
  console.log(`${files.length} Mini Natural Images photos (${mb.toFixed(1)} MB JPEG), sharp ${sharp.versions.sharp}`);

  sharp.concurrency(1);
  for (const f of files.slice(0, 20)) await preprocess(f, OPTS); // warm-up
  let decoded: Awaited<ReturnType<typeof decodeImage>>[] = [];
  await timed('decode only (sharp, 1 thread)', n, async () => {
    decoded = [];
    for (const f of files) decoded.push(await decodeImage(f, OPTS));
  });
  await timed('resize + crop + normalise only (TS)', n, async () => {
    for (const d of decoded) preprocessDecoded(d.data, d.width, d.height, OPTS.spec);
  });
  await timed('in-process, sequential, 1 thread', n, async () => {
    for (const f of files) await preprocess(f, OPTS);
  });
  for (const threads of [1, 2]) await poolRun(threads, files);
}

runMain(main);
