/**
 * Issue 3's throughput target: extractDataset (read, hash, decode in workers, inference, store into a fresh cache)
 * against a raw onnxruntime `session.run` loop over the same images decoded beforehand, with the same session,
 * threads and batch size. Each repetition times both back to back (alternating which goes first, so drift in the
 * machine's load hits both alike); the ratio is the median of the per-repetition ratios.
 *
 * The machine these run on is shared, so three load-independent figures come with the wall-clock ones: CPU seconds
 * per image (all threads of the process), and, for extract, the share of its wall time spent inside `session.run`
 * (what the pipeline adds shows as the rest).
 *
 * Usage: node <compiled>/bench/extract/throughput.js [N=200] [REPS=3] [CONFIGS=t2w1b8,t2w0b8,t2w2b8,t1w1b8,t2w1b1,t2w1b32]
 * A config tNwNbN is onnxruntime intra-op threads, preprocessing worker threads (0 = in-process), batch size; a
 * suffix s0 turns off the spin-waiting of onnxruntime's intra-op threads (session config
 * session.intra_op.allow_spinning = 0), which convfeat's session does not set; a suffix e makes PreprocessPool hand
 * every queued image to its workers at once instead of two per worker (see eagerDispatch below). Both suffixes try
 * a change to src/ without making it, so that its effect is measured beside the code as it is.
 */
import * as fs from 'fs';
import * as ort from 'onnxruntime-node';
import type { OpenBackbone } from '../../src/backbone/load';
import type { Dataset, DatasetItem } from '../../src/dataset';
import {
  DATA_ROOT,
  fromDist,
  intArg,
  machineLine,
  median,
  requireDataRoot,
  runMain,
  sampleDistinct,
  tempDir,
  timed,
  type Timing,
} from './common';
import { batchesOf } from './batches';

const { openBackbone, prepareBackbone } = fromDist<typeof import('../../src/backbone/load')>('backbone/load');
const { extractDataset } = fromDist<typeof import('../../src/cache/extract')>('cache/extract');
const { scanDataset } = fromDist<typeof import('../../src/dataset')>('dataset/index');
const { runBatch } = fromDist<typeof import('../../src/backbone/runtime/session')>('backbone/runtime/session');
const { PreprocessPool } = fromDist<typeof import('../../src/preprocess/pool')>('preprocess/pool');
const { preprocess } = fromDist<typeof import('../../src/preprocess')>('preprocess/index');

interface Config {
  name: string;
  threads: number;
  workers: number;
  batch: number;
  spin: boolean;
  eager: boolean;
}

const DEFAULT_CONFIGS = 't2w1b8,t2w0b8,t2w2b8,t1w1b8,t2w1b1,t2w1b32';

function parseConfig(name: string): Config {
  const m = /^t(\d+)w(\d+)b(\d+)(s0)?(e)?$/.exec(name);
  if (!m) throw new Error(`config ${JSON.stringify(name)} is not of the form t2w1b8, t2w1b8s0, t2w1b8e or t2w1b8s0e`);
  return {
    name,
    threads: Number(m[1]),
    workers: Number(m[2]),
    batch: Number(m[3]),
    spin: m[4] === undefined,
    eager: m[5] !== undefined,
  };
}

async function rawLoop(backbone: OpenBackbone, batches: ort.Tensor[]): Promise<void> {
  const h = await backbone.session();
  for (const t of batches) await h.session.run({ [h.inputName]: t }, [h.outputName]);
}

/** Runs extract into a fresh cache; returns the seconds it spent inside inference. */
async function pipeline(backbone: OpenBackbone, dataset: Dataset, cfg: Config): Promise<number> {
  const cacheDir = tempDir('convfeat-bench-extract-');
  let inference = 0;
  const timedBackbone: OpenBackbone = {
    ...backbone,
    embed: async (batch, n) => {
      const t0 = process.hrtime.bigint();
      try {
        return await backbone.embed(batch, n);
      } finally {
        inference += Number(process.hrtime.bigint() - t0) / 1e9;
      }
    },
  };
  try {
    const summary = await extractDataset(dataset, timedBackbone, {
      cacheDir,
      batchSize: cfg.batch,
      workers: cfg.workers,
    });
    if (summary.extracted !== dataset.items.length) {
      throw new Error(
        `extract computed ${summary.extracted} of ${dataset.items.length} images (${summary.failed} failed)`,
      );
    }
    if (cfg.workers > 0 && summary.preprocessing !== 'workers')
      throw new Error('the preprocessing pool ran in-process');
    return inference;
  } finally {
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
}

/** The pool's private state that eagerDispatch works on (names as in src/preprocess/pool.ts). */
interface PoolInternals {
  queue: Array<{ id: number; bytes: Buffer; reject: (e: unknown) => void }>;
  slots: Array<{
    worker: import('worker_threads').Worker;
    tasks: Map<number, unknown>;
    ready: boolean;
    exited: boolean;
  }>;
  outgoing(bytes: Buffer): { view: Uint8Array; transferList: ArrayBuffer[] };
  updateRefs(): void;
}

/**
 * PreprocessPool.dispatch as it would be if every queued image went to the least busy ready worker at once. The
 * pool sends a worker at most two images and the next ones only from the main thread when a reply arrives, so while
 * the main thread is blocked in session.run a worker decodes two images and then idles; the rest of the next batch
 * is decoded after run returns, while the main thread waits. extract's window already bounds how many images are
 * queued, so sending them all costs no memory.
 */
function eagerDispatch(this: PoolInternals): void {
  while (this.queue.length > 0) {
    const live = this.slots.filter((s) => s.ready && !s.exited);
    if (live.length === 0) break;
    const slot = live.reduce((a, b) => (b.tasks.size < a.tasks.size ? b : a));
    const task = this.queue.shift()!;
    slot.tasks.set(task.id, task);
    const { view, transferList } = this.outgoing(task.bytes);
    try {
      slot.worker.postMessage({ id: task.id, bytes: view }, transferList);
    } catch (error) {
      slot.tasks.delete(task.id);
      task.reject(error);
    }
  }
  this.updateRefs();
}

const proto = PreprocessPool.prototype as unknown as { dispatch: () => void };
const originalDispatch = proto.dispatch;

/**
 * The same backbone with a session whose intra-op threads sleep instead of spin-waiting between operators and after
 * a run, so the cores go to the preprocessing workers while the main thread is between batches.
 */
async function withoutSpinning(backbone: OpenBackbone): Promise<OpenBackbone> {
  const base = await backbone.session();
  const session = await ort.InferenceSession.create(backbone.prepared.cutBytes(), {
    intraOpNumThreads: base.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    executionProviders: ['cpu'],
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  await backbone.close();
  const handle = { ...base, session };
  return {
    ...backbone,
    session: async () => handle,
    embed: async (batch, n) => runBatch(handle, batch, n),
    close: () => session.release(),
  };
}

function fmt(n: number, digits = 1): string {
  return n.toFixed(digits);
}

async function main(): Promise<void> {
  const n = intArg('N (first argument)', process.argv[2], 200);
  const reps = intArg('REPS (second argument)', process.argv[3], 3);
  const configs = (process.argv[4] ?? DEFAULT_CONFIGS).split(',').map(parseConfig);
  console.log(machineLine());
  const full = await scanDataset(requireDataRoot());
  const items: DatasetItem[] = sampleDistinct(full.items, n);
  const dataset: Dataset = { ...full, items, problems: [] };
  // PRECISION=int8 measures the int8 backbone (issue 14) against its own raw loop.
  const precision = process.env.PRECISION === 'int8' ? 'int8' : 'fp32';
  const prepared = await prepareBackbone({ model: 'resnet50', precision });
  console.log(
    `resnet50 ${precision} (${prepared.layer}), ${items.length} distinct photos of ${DATA_ROOT}, ${reps} repetitions per config`,
  );
  console.log(
    'config     | raw img/s med (best) | extract img/s med (best) | extract/raw med (per rep)     | CPU ms/img raw, extract | extract in run',
  );

  const groups = [...new Set(configs.map((c) => `${c.threads}/${c.spin}`))];
  for (const group of groups) {
    const inGroup = configs.filter((c) => `${c.threads}/${c.spin}` === group);
    const { threads, spin } = inGroup[0]!;
    const backbone = spin
      ? await openBackbone(prepared, { device: 'cpu', threads })
      : await withoutSpinning(await openBackbone(prepared, { device: 'cpu', threads }));
    // Same transform as extract (EXIF applied by default), decoded in-process before any timing.
    const tensors: Float32Array[] = [];
    for (const item of items) tensors.push(await preprocess(fs.readFileSync(item.path), backbone.transform));
    const h = await backbone.session();
    const dims = h.inputShape.slice(1).map((d) => (typeof d === 'number' ? d : 224));
    for (const cfg of inGroup) {
      const batches = batchesOf(tensors, cfg.batch, dims);
      await h.session.run({ [h.inputName]: batches[0]! }, [h.outputName]); // this batch shape's first run allocates
      const raw: Timing[] = [];
      const ext: Timing[] = [];
      const inRun: number[] = [];
      proto.dispatch = cfg.eager ? (eagerDispatch as unknown as () => void) : originalDispatch;
      for (let r = 0; r < reps; r++) {
        const doRaw = async () => raw.push(await timed(() => rawLoop(backbone, batches)));
        const doExt = async () => {
          let seconds = 0;
          ext.push(await timed(async () => void (seconds = await pipeline(backbone, dataset, cfg))));
          inRun.push(seconds / ext[ext.length - 1]!.seconds);
        };
        if (r % 2 === 0) {
          await doRaw();
          await doExt();
        } else {
          await doExt();
          await doRaw();
        }
      }
      const rates = (ts: Timing[]) => ts.map((t) => items.length / t.seconds);
      const cpuMs = (ts: Timing[]) => fmt(median(ts.map((t) => (t.cpuSeconds / items.length) * 1000)));
      const ratios = raw.map((t, i) => t.seconds / ext[i]!.seconds);
      const line =
        `${cfg.name.padEnd(10)} | ${`${fmt(median(rates(raw)))} (${fmt(Math.max(...rates(raw)))})`.padEnd(20)} |` +
        ` ${`${fmt(median(rates(ext)))} (${fmt(Math.max(...rates(ext)))})`.padEnd(24)} |` +
        ` ${`${fmt(median(ratios), 3)} (${ratios.map((x) => fmt(x, 2)).join(' ')})`.padEnd(29)} |` +
        ` ${`${cpuMs(raw)}, ${cpuMs(ext)}`.padEnd(23)} | ${fmt(median(inRun) * 100)} %`;
      console.log(line);
    }
    await backbone.close();
  }
  console.log(machineLine());
}

runMain(main);
