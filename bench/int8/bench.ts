/**
 * fp32 vs int8 ResNet50, always measured side by side in one run (the machine is shared: only ratios from
 * interleaved rounds mean something; absolute img/s move with the load).
 *
 *   node bench/out/js/bench/int8/bench.js raw      [--photos 48] [--rounds 5] [--threads 2] [--batch 8]
 *   node bench/out/js/bench/int8/bench.js extract  [--photos 96] [--rounds 3] [--threads 2]
 *   node bench/out/js/bench/int8/bench.js cosine   --fp32 CACHE --int8 CACHE
 *   node bench/out/js/bench/int8/bench.js quantize [--rounds 3]
 *
 * raw:      onnxruntime alone on the same pre-decoded tensors, fp32 and int8 sessions alternating round by round.
 * extract:  `convfeat extract --precision fp32|int8` on the same photos into fresh caches, alternating.
 * cosine:   per-image cosine between the embeddings two caches hold for the same photos, per split.
 * quantize: time to quantise the fp32 cut graph with the committed table, and the two models' sizes.
 * Each writes its JSON summary to bench/results/int8-<step>.json (--out to change).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import {
  BenchUsageError,
  DATA_ROOT,
  flag,
  fromDist,
  intFlag,
  linkFolder,
  machineLine,
  median,
  REPO_ROOT,
  requireDataRoot,
  runMain,
  sampleDistinct,
  tempDir,
  writeSummary,
} from '../extract/common';
import { cacheCosines } from './cacheCosines';
import type * as Load from '../../src/backbone/load';
import type * as Quantize from '../../src/backbone/quantize';
import type * as Proto from '../../src/backbone/graph/proto';
import type * as Dataset from '../../src/dataset';
import type * as Preprocess from '../../src/preprocess';

const load = fromDist<typeof Load>('backbone/load');
const STEPS = ['raw', 'extract', 'cosine', 'quantize'] as const;
type StepName = (typeof STEPS)[number];

async function prepared(precision: 'fp32' | 'int8') {
  return load.prepareBackbone({ model: 'resnet50', precision });
}

async function photoSample(n: number) {
  const { scanDataset } = fromDist<typeof Dataset>('dataset/index');
  const dataset = await scanDataset(requireDataRoot());
  return sampleDistinct(dataset.items, n);
}

async function raw(): Promise<unknown> {
  const n = intFlag('photos', 48);
  const rounds = intFlag('rounds', 5);
  const threads = intFlag('threads', 2);
  const batch = intFlag('batch', 8);
  const { preprocess } = fromDist<typeof Preprocess>('preprocess/index');
  const fp32 = await prepared('fp32');
  const int8 = await prepared('int8');
  const items = await photoSample(n);
  const per = 3 * 224 * 224;
  const tensors = new Float32Array(n * per);
  for (let i = 0; i < n; i++)
    tensors.set(await preprocess(fs.readFileSync(items[i]!.path), { spec: fp32.spec, exif: 'apply' }), i * per);
  const options = { intraOpNumThreads: threads, interOpNumThreads: 1, executionProviders: ['cpu'] };
  const sessions = {
    fp32: await ort.InferenceSession.create(fp32.cutBytes(), options),
    int8: await ort.InferenceSession.create(int8.cutBytes(), options),
  };
  const loop = async (s: ort.InferenceSession): Promise<number> => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i += batch) {
      const m = Math.min(batch, n - i);
      await s.run({
        [s.inputNames[0]!]: new ort.Tensor('float32', tensors.subarray(i * per, (i + m) * per), [m, 3, 224, 224]),
      });
    }
    return n / (Number(process.hrtime.bigint() - t0) / 1e9);
  };
  await loop(sessions.fp32); // warm-up, not counted
  await loop(sessions.int8);
  const perRound: Array<{ fp32: number; int8: number; ratio: number }> = [];
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first, so a load change within a round does not always favour the same one.
    const order = r % 2 ? (['int8', 'fp32'] as const) : (['fp32', 'int8'] as const);
    const got: Record<string, number> = {};
    for (const k of order) got[k] = await loop(sessions[k]);
    perRound.push({ fp32: got.fp32!, int8: got.int8!, ratio: got.int8! / got.fp32! });
    console.log(
      `round ${r + 1}: fp32 ${got.fp32!.toFixed(1)} img/s, int8 ${got.int8!.toFixed(1)} img/s, ×${(got.int8! / got.fp32!).toFixed(2)}`,
    );
  }
  await sessions.fp32.release();
  await sessions.int8.release();
  return {
    photos: n,
    batch,
    threads,
    rounds: perRound,
    medianFp32: median(perRound.map((r) => r.fp32)),
    medianInt8: median(perRound.map((r) => r.int8)),
    medianRatio: median(perRound.map((r) => r.ratio)),
  };
}

async function extract(): Promise<unknown> {
  const n = intFlag('photos', 96);
  const rounds = intFlag('rounds', 3);
  const threads = intFlag('threads', 2);
  await prepared('int8'); // the int8 graph exists before the first timed run
  const items = await photoSample(n);
  const work = tempDir('convfeat-int8-extract-');
  const data = linkFolder(
    path.join(work, 'data'),
    items.map((it) => [it.relPath, it.path] as const),
  );
  const cli = path.join(REPO_ROOT, 'dist', 'cli.js');
  const once = (precision: string, r: number): number => {
    const cache = path.join(work, `cache-${precision}-${r}`);
    const t0 = process.hrtime.bigint();
    const res = spawnSync(
      process.execPath,
      [
        cli,
        'extract',
        '--model',
        'resnet50',
        '--precision',
        precision,
        '--data',
        data,
        '--cache',
        cache,
        '--threads',
        String(threads),
        '--quiet',
      ],
      { encoding: 'utf8' },
    );
    if (res.status !== 0) throw new Error(`extract --precision ${precision} failed: ${res.stderr}`);
    fs.rmSync(cache, { recursive: true, force: true });
    return n / (Number(process.hrtime.bigint() - t0) / 1e9);
  };
  const perRound: Array<{ fp32: number; int8: number; ratio: number }> = [];
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? ['int8', 'fp32'] : ['fp32', 'int8'];
    const got: Record<string, number> = {};
    for (const k of order) got[k] = once(k, r);
    perRound.push({ fp32: got.fp32!, int8: got.int8!, ratio: got.int8! / got.fp32! });
    console.log(
      `round ${r + 1}: fp32 ${got.fp32!.toFixed(1)} img/s, int8 ${got.int8!.toFixed(1)} img/s, ×${(got.int8! / got.fp32!).toFixed(2)} (whole process, model load included)`,
    );
  }
  fs.rmSync(work, { recursive: true, force: true });
  return {
    photos: n,
    threads,
    rounds: perRound,
    medianFp32: median(perRound.map((r) => r.fp32)),
    medianInt8: median(perRound.map((r) => r.int8)),
    medianRatio: median(perRound.map((r) => r.ratio)),
  };
}

function cosine(): unknown {
  const a = flag('fp32');
  const b = flag('int8');
  if (!a || !b) throw new BenchUsageError('cosine needs --fp32 CACHE and --int8 CACHE');
  return cacheCosines(a, b);
}

async function quantize(): Promise<unknown> {
  const rounds = intFlag('rounds', 3);
  const q = fromDist<typeof Quantize>('backbone/quantize/index');
  const proto = fromDist<typeof Proto>('backbone/graph/proto');
  const fp32 = await prepared('fp32');
  const entry = fp32.entry!;
  const table = q.readRangeTable(path.join(REPO_ROOT, 'onnx', entry.int8!.ranges));
  const seconds: number[] = [];
  let bytes = 0;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    const model = q.quantizeModel(proto.decodeModel(fp32.cutBytes(), 'resnet50'), { ranges: table.ranges }).model;
    bytes = proto.encodeModel(model).length;
    seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  const result = { fp32Bytes: fp32.cutBytes().length, int8Bytes: bytes, medianSeconds: median(seconds), seconds };
  console.log(
    `quantise: median ${result.medianSeconds.toFixed(2)} s; fp32 ${(result.fp32Bytes / 1e6).toFixed(1)} MB, int8 ${(bytes / 1e6).toFixed(1)} MB`,
  );
  return result;
}

runMain(async () => {
  const step = process.argv[2] as StepName;
  if (!STEPS.includes(step))
    throw new BenchUsageError(`Expected a step (${STEPS.join(', ')}) but received ${JSON.stringify(process.argv[2])}`);
  console.log(machineLine());
  console.log(`data: ${DATA_ROOT}`);
  const result =
    step === 'raw'
      ? await raw()
      : step === 'extract'
        ? await extract()
        : step === 'cosine'
          ? cosine()
          : await quantize();
  writeSummary(flag('out') ?? path.join(REPO_ROOT, 'bench', 'results', `int8-${step}.json`), {
    machine: machineLine(),
    step,
    ...(result as object),
  });
});
