/**
 * Issue 14's side-by-side figures, all in one process and one run: per round, in a rotating order,
 *   raw fp32 / raw int8 — onnxruntime `session.run` over the same photos decoded and batched beforehand,
 *   extract fp32 / extract int8 — extractDataset (read, hash, decode, Pillow-exact resize, infer, store) into a fresh
 *                                  cache, with the library's defaults (= the CLI's) apart from the threads,
 *   torch — the PyTorch CPU pipeline a user would pick instead (bench/int8/torch_pipeline.py: ImageFolder +
 *           DataLoader + torchvision resnet50, randomly initialised weights), same photos, threads and batch size,
 *           kept running between rounds so model loading is outside the timing as it is for the others.
 * Every figure is a median over rounds; ratios are medians of per-round ratios (the machine is shared, so rounds
 * are interleaved and the load average is printed beside each round). CPU time counts every thread of the process
 * (and for torch its DataLoader worker processes).
 *
 *   node bench/out/js/bench/int8/pipeline.js [--photos 96] [--rounds 5] [--threads 2] [--batch 8] [--torch-workers 1]
 *     [--python /usr/bin/python3] [--no-torch] [--also-w0] [--out bench/results/int8-pipeline.json]
 * --python: a Python with torch and torchvision (the figures in bench/README.md used the torch 2.13 CPU wheel with
 * TORCHVISION_WITHOUT_OPS=1, see torch_pipeline.py; Debian's python3-torch 1.13 is built with generic BLAS and
 * AVX2 only, several times slower, which would flatter convfeat).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as readline from 'readline';
import {
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
  timed,
  type Timing,
  writeSummary,
} from '../extract/common';
import { batchesOf } from '../extract/batches';
import type * as Load from '../../src/backbone/load';
import type * as Cache from '../../src/cache';
import type * as DatasetModule from '../../src/dataset';
import type * as Preprocess from '../../src/preprocess';

const load = fromDist<typeof Load>('backbone/load');
const cache = fromDist<typeof Cache>('cache/index');
const datasets = fromDist<typeof DatasetModule>('dataset/index');
const pre = fromDist<typeof Preprocess>('preprocess/index');

type Backbone = Awaited<ReturnType<typeof load.openBackbone>>;
type Step = 'raw-fp32' | 'raw-int8' | 'extract-fp32' | 'extract-int8' | 'extract-int8-w0' | 'torch';

/** The PyTorch pipeline as a child that answers one JSON line per "run". */
class TorchPipeline {
  private readonly lines: AsyncIterableIterator<string>;
  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    this.lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
  }

  static async start(python: string, root: string, threads: number, batch: number, workers: number) {
    const script = path.join(REPO_ROOT, 'bench', 'int8', 'torch_pipeline.py');
    const args = [script, root, '--threads', String(threads), '--batch', String(batch), '--workers', String(workers)];
    const p = new TorchPipeline(spawn(python, args, { stdio: ['pipe', 'pipe', 'pipe'] }));
    const ready = await p.reply();
    return { pipeline: p, ready };
  }

  private async reply(): Promise<Record<string, unknown>> {
    const { value, done } = await this.lines.next();
    if (done) throw new Error('the PyTorch pipeline exited (see its stderr above)');
    return JSON.parse(value as string) as Record<string, unknown>;
  }

  async run(): Promise<Timing & { rows: number }> {
    this.child.stdin.write('run\n');
    return (await this.reply()) as unknown as Timing & { rows: number };
  }

  close(): void {
    this.child.stdin.end('quit\n');
  }
}

async function main(): Promise<void> {
  const photos = intFlag('photos', 96);
  const rounds = intFlag('rounds', 5);
  const threads = intFlag('threads', 2);
  const batch = intFlag('batch', 8);
  const torchWorkers = intFlag('torch-workers', 1, 0);
  const python = flag('python') ?? '/usr/bin/python3';
  const withTorch = !process.argv.includes('--no-torch');
  const out = flag('out') ?? path.join(REPO_ROOT, 'bench', 'results', 'int8-pipeline.json');
  console.log(machineLine());
  const full = await datasets.scanDataset(requireDataRoot());
  const items = sampleDistinct(full.items, photos);
  const dataset = { ...full, items, problems: [] };

  const backbones: Record<'fp32' | 'int8', Backbone> = {
    fp32: await load.openBackbone(await load.prepareBackbone({ model: 'resnet50', precision: 'fp32' }), {
      device: 'cpu',
      threads,
    }),
    int8: await load.openBackbone(await load.prepareBackbone({ model: 'resnet50', precision: 'int8' }), {
      device: 'cpu',
      threads,
    }),
  };
  // Decoded once, before any timing, with extract's own transform (identical for both precisions).
  const tensors: Float32Array[] = [];
  for (const item of items) tensors.push(await pre.preprocess(fs.readFileSync(item.path), backbones.fp32.transform));
  const batches = batchesOf(tensors, batch, [3, 224, 224]);
  for (const b of Object.values(backbones)) {
    const h = await b.session();
    await h.session.run({ [h.inputName]: batches[0]! }, [h.outputName]); // first run allocates
  }

  let torch: TorchPipeline | undefined;
  let torchInfo: Record<string, unknown> | undefined;
  const work = tempDir('convfeat-bench-int8-pipeline-');
  if (withTorch) {
    const root = linkFolder(
      path.join(work, 'imagefolder'),
      items.map(
        (item, i) =>
          [
            path.join(item.label ?? 'x', `${String(i).padStart(4, '0')}-${path.basename(item.path)}`),
            item.path,
          ] as const,
      ),
    );
    const started = await TorchPipeline.start(python, root, threads, batch, torchWorkers);
    torch = started.pipeline;
    torchInfo = started.ready;
    if (torchInfo.photos !== items.length) throw new Error(`ImageFolder found ${String(torchInfo.photos)} photos`);
  }

  // --also-w0: extract int8 with preprocessing in the main process too (--workers 0), the scheduling alternative.
  const alsoW0 = process.argv.includes('--also-w0');
  const steps: Step[] = [
    'raw-fp32',
    'raw-int8',
    'extract-fp32',
    'extract-int8',
    ...(alsoW0 ? ['extract-int8-w0' as const] : []),
    ...(torch ? ['torch' as const] : []),
  ];
  const timings = new Map<Step, Timing[]>(steps.map((s) => [s, []]));
  const loads: number[] = [];
  const runStep = async (step: Step, r: number): Promise<Timing> => {
    if (step === 'torch') {
      const t = await torch!.run();
      if (t.rows !== items.length) throw new Error(`torch embedded ${t.rows} photos`);
      return t;
    }
    const precision = step.includes('int8') ? 'int8' : 'fp32';
    const backbone = backbones[precision];
    if (step.startsWith('raw')) {
      const h = await backbone.session();
      return timed(async () => {
        for (const t of batches) await h.session.run({ [h.inputName]: t }, [h.outputName]);
      });
    }
    const cacheDir = path.join(work, `cache-${precision}-${r}`);
    let extracted = 0;
    const t = await timed(async () => {
      const workers = step.endsWith('-w0') ? { workers: 0 } : {};
      extracted = (await cache.extractDataset(dataset, backbone, { cacheDir, batchSize: batch, ...workers })).extracted;
    });
    if (extracted !== items.length) throw new Error(`extract computed ${extracted} of ${items.length} photos`);
    fs.rmSync(cacheDir, { recursive: true, force: true });
    return t;
  };
  for (let r = 0; r < rounds; r++) {
    const order = steps.map((_, i) => steps[(i + r) % steps.length]!);
    const line: string[] = [];
    for (const step of order) {
      const t = await runStep(step, r);
      timings.get(step)!.push(t);
      line.push(`${step} ${(items.length / t.seconds).toFixed(1)} img/s`);
    }
    loads.push(os.loadavg()[0]!);
    console.log(`round ${r + 1}: ${line.join(', ')}; load average ${os.loadavg()[0]!.toFixed(1)}`);
  }
  torch?.close();

  const rate = (s: Step) => median(timings.get(s)!.map((t) => items.length / t.seconds));
  const cpuMs = (s: Step) => median(timings.get(s)!.map((t) => (t.cpuSeconds / items.length) * 1000));
  const ratio = (a: Step, b: Step) => {
    const ta = timings.get(a)!;
    const tb = timings.get(b)!;
    const per = ta.map((t, i) => tb[i]!.seconds / t.seconds);
    return { median: median(per), rounds: per };
  };
  const summary = {
    machine: machineLine(),
    data: path.basename(DATA_ROOT),
    photos: items.length,
    rounds,
    threads,
    batch,
    extractWorkers: pre.defaultPreprocessThreads(false),
    torchWorkers,
    torch: torchInfo,
    loadAverage: { min: Math.min(...loads), median: median(loads), max: Math.max(...loads) },
    imagesPerSecond: Object.fromEntries(steps.map((s) => [s, rate(s)])),
    cpuMsPerImage: Object.fromEntries(steps.map((s) => [s, cpuMs(s)])),
    ratios: {
      'extract/raw fp32': ratio('extract-fp32', 'raw-fp32'),
      'extract/raw int8': ratio('extract-int8', 'raw-int8'),
      'raw int8/fp32': ratio('raw-int8', 'raw-fp32'),
      'extract int8/fp32': ratio('extract-int8', 'extract-fp32'),
      ...(alsoW0 ? { 'extract/raw int8 --workers 0': ratio('extract-int8-w0', 'raw-int8') } : {}),
      ...(torch
        ? {
            'extract fp32/torch': ratio('extract-fp32', 'torch'),
            'extract int8/torch': ratio('extract-int8', 'torch'),
          }
        : {}),
    },
  };
  console.log('step          | img/s (median) | CPU ms/img (median)');
  for (const s of steps)
    console.log(`${s.padEnd(13)} | ${rate(s).toFixed(1).padStart(14)} | ${cpuMs(s).toFixed(1).padStart(19)}`);
  for (const [name, r] of Object.entries(summary.ratios))
    console.log(`${name.padEnd(20)} ${r.median.toFixed(3)}  (rounds ${r.rounds.map((x) => x.toFixed(2)).join(' ')})`);
  console.log(machineLine());
  writeSummary(out, summary);
  for (const b of Object.values(backbones)) await b.close();
  fs.rmSync(work, { recursive: true, force: true });
}

runMain(main);
