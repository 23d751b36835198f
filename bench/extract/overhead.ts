/**
 * What extract costs besides inference: extractDataset over N photos with a stand-in backbone whose `embed` returns
 * zeros at once, so the wall time is reading, hashing, decoding (in the pool), storing and listing alone. The time
 * the store's durable writes take (shard write + fsync, index append + fsync) is summed separately: extract runs
 * them in its write thread (cache/batch-writer.ts), overlapped with the next batch's inference, so this column is
 * their latency from post to durable, not main-thread time (EmbeddingStore.putBatch, still timed when called,
 * runs them on the main thread).
 *
 * Usage: node <compiled>/bench/extract/overhead.js [N=200] [REPS=3] [CONFIGS=w0b8,w1b8,w1b32]
 */
import * as fs from 'fs';
import type { EmbeddingBackbone } from '../../src/backbone/runtime/extractor';
import type { Dataset } from '../../src/dataset';
import { fromDist, intArg, machineLine, median, requireDataRoot, runMain, sampleDistinct, tempDir } from './common';

const { prepareBackbone, openBackbone } = fromDist<typeof import('../../src/backbone/load')>('backbone/load');
const { extractDataset } = fromDist<typeof import('../../src/cache/extract')>('cache/extract');
const { EmbeddingStore } = fromDist<typeof import('../../src/cache/store')>('cache/store');
const { BatchWriter } = fromDist<typeof import('../../src/cache/batch-writer')>('cache/batch-writer');
const { scanDataset } = fromDist<typeof import('../../src/dataset')>('dataset/index');

let storeSeconds = 0;
const storeProto = EmbeddingStore.prototype as unknown as { putBatch: (...a: unknown[]) => number };
const putBatch = storeProto.putBatch;
storeProto.putBatch = function (this: unknown, ...args: unknown[]): number {
  const t0 = process.hrtime.bigint();
  try {
    return putBatch.apply(this, args);
  } finally {
    storeSeconds += Number(process.hrtime.bigint() - t0) / 1e9;
  }
};
const writerProto = BatchWriter.prototype as unknown as { write: (...a: unknown[]) => Promise<string> };
const write = writerProto.write;
writerProto.write = function (this: unknown, ...args: unknown[]): Promise<string> {
  const t0 = process.hrtime.bigint();
  const done = write.apply(this, args);
  const stop = () => void (storeSeconds += Number(process.hrtime.bigint() - t0) / 1e9);
  done.then(stop, stop);
  return done;
};

async function main(): Promise<void> {
  const n = intArg('N (first argument)', process.argv[2], 200);
  const reps = intArg('REPS (second argument)', process.argv[3], 3);
  const configs = (process.argv[4] ?? 'w0b8,w1b8,w1b32').split(',').map((name) => {
    const m = /^w(\d+)b(\d+)$/.exec(name);
    if (!m) throw new Error(`config ${JSON.stringify(name)} is not of the form w1b8`);
    return { name, workers: Number(m[1]), batch: Number(m[2]) };
  });
  console.log(machineLine());
  const full = await scanDataset(requireDataRoot());
  const dataset: Dataset = { ...full, items: sampleDistinct(full.items, n), problems: [] };
  // The real identity and transform (no session is opened: the model's shapes give the dimension).
  const real = await openBackbone(await prepareBackbone({ model: 'resnet50' }), { device: 'cpu' });
  const dim = real.identity.dim;
  const instant: EmbeddingBackbone = { ...real, embed: async (_batch, count) => new Float32Array(count * dim) };
  console.log(`${dataset.items.length} photos, stand-in backbone (no inference), ${reps} repetitions`);
  console.log('config | wall ms/img med | CPU ms/img med | store writes ms/img med');
  for (const cfg of configs) {
    const wall: number[] = [];
    const cpu: number[] = [];
    const store: number[] = [];
    for (let r = 0; r < reps; r++) {
      const cacheDir = tempDir('convfeat-bench-overhead-');
      storeSeconds = 0;
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      const summary = await extractDataset(dataset, instant, { cacheDir, batchSize: cfg.batch, workers: cfg.workers });
      wall.push(Number(process.hrtime.bigint() - t0) / 1e6 / dataset.items.length);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1e3 / dataset.items.length);
      store.push((storeSeconds * 1e3) / dataset.items.length);
      fs.rmSync(cacheDir, { recursive: true, force: true });
      if (summary.extracted !== dataset.items.length)
        throw new Error(`extracted ${summary.extracted} of ${dataset.items.length}`);
    }
    console.log(
      `${cfg.name.padEnd(6)} | ${median(wall).toFixed(2).padStart(15)} | ${median(cpu).toFixed(2).padStart(14)} | ${median(store).toFixed(2).padStart(23)}`,
    );
  }
  await real.close();
}

runMain(main);
