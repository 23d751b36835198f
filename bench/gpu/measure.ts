/**
 * The GPU proof (issue 9), run by bench/gpu/run.sh: on one device (cuda, or cpu for the dry run) it measures
 *   1. `convfeat extract` end to end (the CLI, as users run it) + `fit-linear` + `evaluate` (svm and softmax),
 *   2. embedding parity of that device against CPU on `--parity` photos (max relative |Δ|),
 *   3. throughput: extract vs a raw onnxruntime loop over pre-decoded tensors (same model, device, batch) vs a
 *      decode+preprocess-only run on every core; the goal is extract ≥ 0.9 × min(raw loop, preprocessing),
 *   4. peak host RSS (the extract process tree, polled from /proc; this process's own peak) and peak GPU memory
 *      (nvidia-smi, polled),
 * and writes summary.json into --out after every step, so a run cut short still leaves what it measured.
 *
 * It loads the compiled project (dist/) from --root, so it runs from the bundle bench/gpu/pack.sh builds, with no
 * TypeScript and no internet. Usage:
 *   node measure.js --root DIR --data MINI_NATURAL_IMAGES --model resnet50.onnx --device cuda --out OUT
 *        [--limit N (photos per class and split; 0 = all)] [--parity 200] [--batch B] [--throughput 512]
 */
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

type Args = Record<string, string>;
function parseArgs(argv: string[]): Args {
  const out: Args = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    out[a.slice(2)] = argv[i + 1] ?? '';
    i++;
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
const ROOT = path.resolve(args.root ?? path.join(__dirname, '..', '..', '..', '..', '..'));
const DEVICE = args.device ?? 'cuda';
const ON_GPU = DEVICE.startsWith('cuda');
const OUT = path.resolve(args.out ?? 'gpu-out');
const DATA = path.resolve(args.data ?? '');
const MODEL = path.resolve(args.model ?? path.join(ROOT, 'onnx', 'resnet50.onnx'));
const LIMIT = Number(args.limit ?? 0);
const PARITY = Number(args.parity ?? 200);
const BATCH = Number(args.batch ?? (ON_GPU ? 64 : 8));
const THROUGHPUT_IMAGES = Number(args.throughput ?? (ON_GPU ? 1024 : 64));
const CLI = path.join(ROOT, 'dist', 'cli.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dist = <T>(rel: string): T => require(path.join(ROOT, 'dist', rel)) as T;

const summary: Record<string, unknown> = { device: DEVICE, batch: BATCH, started: new Date().toISOString() };
function save(): void {
  fs.mkdirSync(OUT, { recursive: true });
  fs.writeFileSync(path.join(OUT, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
}
function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Peak GPU memory (MiB) while `label` runs, from `nvidia-smi -lms`; null where there is no nvidia-smi. */
class GpuMemory {
  private child: ChildProcess | null = null;
  private current = 0;
  readonly peaks: Record<string, number> = {};
  private label = 'idle';
  start(): boolean {
    const probe = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8' });
    if (probe.status !== 0) return false;
    this.child = spawn('nvidia-smi', ['--query-gpu=memory.used', '--format=csv,noheader,nounits', '-lms', '200'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    this.child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      for (const line of text.split('\n')) {
        const v = Number(line.trim());
        if (line.trim() !== '' && Number.isFinite(v)) {
          this.current = v;
          this.peaks[this.label] = Math.max(this.peaks[this.label] ?? 0, v);
        }
      }
    });
    return true;
  }
  phase(label: string): void {
    this.label = label;
    this.peaks[label] = Math.max(this.peaks[label] ?? 0, this.current);
  }
  stop(): void {
    this.child?.kill();
  }
}

/** Sum of VmRSS over a process and its descendants, polled; the peak of that sum. */
function watchTree(pid: number): { stop: () => number } {
  let peak = 0;
  const rssKb = (p: number): number => {
    try {
      const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'));
      return m ? Number(m[1]) : 0;
    } catch {
      return 0;
    }
  };
  const children = (p: number): number[] => {
    try {
      return fs
        .readdirSync(`/proc/${p}/task`)
        .flatMap((t) => fs.readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim().split(/\s+/))
        .filter(Boolean)
        .map(Number);
    } catch {
      return [];
    }
  };
  const poll = (): void => {
    let total = 0;
    const stack = [pid];
    while (stack.length) {
      const p = stack.pop()!;
      total += rssKb(p);
      stack.push(...children(p));
    }
    peak = Math.max(peak, total);
  };
  const timer = setInterval(poll, 100);
  return {
    stop: () => {
      clearInterval(timer);
      return peak / 1024;
    },
  };
}

/** Runs the CLI; resolves to its stdout parsed as JSON (its stderr goes to the log), and the tree's peak RSS. */
function cli(argv: string[]): Promise<{ json: Record<string, unknown>; peakRssMiB: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [CLI, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    const watch = watchTree(child.pid!);
    let stdout = '';
    child.stdout!.setEncoding('utf8').on('data', (t: string) => (stdout += t));
    child.stderr!.setEncoding('utf8').on('data', (t: string) => process.stdout.write(t.replace(/^/gm, '  | ')));
    child.on('error', reject);
    child.on('exit', (code) => {
      const peakRssMiB = watch.stop();
      if (code !== 0) return reject(new Error(`convfeat ${argv.slice(0, 1).join(' ')} exited ${code}`));
      try {
        resolve({ json: JSON.parse(stdout) as Record<string, unknown>, peakRssMiB, seconds: (Date.now() - t0) / 1000 });
      } catch {
        reject(new Error(`convfeat ${argv[0]} printed no JSON: ${stdout.slice(0, 200)}`));
      }
    });
  });
}

/** A copy of the dataset as symlinks, `limit` photos per class and split (the dry run's small subset). */
function subset(data: string, limit: number): string {
  if (limit <= 0) return data;
  const dir = path.join(OUT, `data-subset-${limit}`);
  fs.rmSync(dir, { recursive: true, force: true });
  for (const split of fs.readdirSync(data).filter((s) => fs.statSync(path.join(data, s)).isDirectory())) {
    for (const cls of fs.readdirSync(path.join(data, split))) {
      const from = path.join(data, split, cls);
      if (!fs.statSync(from).isDirectory()) continue;
      fs.mkdirSync(path.join(dir, split, cls), { recursive: true });
      for (const f of fs.readdirSync(from).sort().slice(0, limit))
        fs.symlinkSync(path.join(from, f), path.join(dir, split, cls, f));
    }
  }
  return dir;
}

function photosOf(data: string, n: number): string[] {
  const all: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.jpe?g$/i.test(e.name)) all.push(p);
    }
  };
  walk(data);
  const step = Math.max(1, Math.floor(all.length / n));
  return all.filter((_, i) => i % step === 0).slice(0, n);
}

type LoadModule = typeof import('../../src/backbone/load');
type PoolModule = typeof import('../../src/preprocess/pool');

async function decodeAll(files: string[], transform: import('../../src/preprocess').TransformOptions, threads: number) {
  const { PreprocessPool } = dist<PoolModule>('preprocess/pool');
  const pool = new PreprocessPool({ threads, opts: transform, inFlightPerWorker: 4 });
  try {
    return await Promise.all(files.map(async (f) => pool.run(await fs.promises.readFile(f))));
  } finally {
    await pool.close();
  }
}

function stack(tensors: Float32Array[], from: number, n: number): Float32Array {
  const per = tensors[0]!.length;
  const out = new Float32Array(n * per);
  for (let j = 0; j < n; j++) out.set(tensors[from + j]!, j * per);
  return out;
}

async function main(): Promise<void> {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: --root must be the built project`);
  if (!fs.existsSync(path.join(DATA, 'train'))) throw new Error(`--data ${DATA} has no train/ folder`);
  fs.mkdirSync(OUT, { recursive: true });
  const gpu = new GpuMemory();
  const cores = os.availableParallelism();
  summary.machine = {
    cpus: cores,
    cpu: os.cpus()[0]?.model,
    memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    gpu: spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8' }).stdout?.trim() || null,
    nvidiaSmiPolling: gpu.start(),
  };
  summary.gpuCheck = JSON.parse(
    spawnSync(process.execPath, [CLI, 'gpu', 'check', '--json'], { encoding: 'utf8' }).stdout || 'null',
  );
  save();

  // 1. extract end to end, then the linear probes.
  const data = subset(DATA, LIMIT);
  const cache = path.join(OUT, `cache-${DEVICE.replace(':', '')}`);
  fs.rmSync(cache, { recursive: true, force: true });
  log(`== extract --device ${DEVICE} on ${data}`);
  gpu.phase('extract');
  const extract = await cli([
    'extract',
    '--data',
    data,
    '--cache',
    cache,
    '--model',
    MODEL,
    '--device',
    DEVICE,
    '--batch-size',
    String(BATCH),
    '--json',
  ]);
  const ex = extract.json as {
    provider: string;
    extracted: number;
    imagesPerSecond: number;
    seconds: number;
    failed: number;
  };
  if (ON_GPU && !String(ex.provider).startsWith('cuda')) throw new Error(`extract ran on ${ex.provider}, not CUDA`);
  summary.extract = { ...ex, wallSeconds: extract.seconds, peakRssMiB: Math.round(extract.peakRssMiB) };
  log(
    `-- extract: ${ex.extracted} images, ${ex.imagesPerSecond.toFixed(1)} img/s on ${ex.provider}, peak RSS ${Math.round(extract.peakRssMiB)} MiB`,
  );
  save();
  gpu.phase('fit');
  const accuracy: Record<string, unknown> = {};
  for (const solver of ['svm', 'softmax']) {
    const clf = path.join(OUT, `classifier-${solver}.json`);
    await cli(['fit-linear', '--cache', cache, '--out', clf, '--solver', solver, '--json']);
    const ev = (await cli(['evaluate', '--classifier', clf, '--cache', cache, '--json'])).json as {
      accuracy: number;
      split: string;
      n?: number;
    };
    accuracy[solver] = { accuracy: ev.accuracy, split: ev.split };
    log(`-- ${solver}: test accuracy ${(100 * ev.accuracy).toFixed(2)} % (${ev.split})`);
  }
  summary.accuracy = accuracy;
  save();

  // 2. parity against CPU, on the same preprocessed tensors.
  const { prepareBackbone, openBackbone } = dist<LoadModule>('backbone/load');
  const prepared = await prepareBackbone({ model: MODEL });
  const device = await openBackbone(prepared, { device: DEVICE, log });
  const cpu = await openBackbone(prepared, { device: 'cpu' });
  const parityFiles = photosOf(DATA, LIMIT > 0 ? Math.min(PARITY, 16) : PARITY);
  log(`== parity ${DEVICE} vs cpu on ${parityFiles.length} photos`);
  gpu.phase('parity');
  const tensors = await decodeAll(parityFiles, device.transform, cores);
  let maxRowRel = 0;
  let maxAbs = 0;
  for (let i = 0; i < tensors.length; i += BATCH) {
    const n = Math.min(BATCH, tensors.length - i);
    const batch = stack(tensors, i, n);
    const a = await device.embed(batch, n);
    const b = await cpu.embed(batch, n);
    const dim = a.length / n;
    for (let r = 0; r < n; r++) {
      let rowMax = 0;
      let rowDiff = 0;
      for (let k = r * dim; k < (r + 1) * dim; k++) {
        rowMax = Math.max(rowMax, Math.abs(b[k]!));
        rowDiff = Math.max(rowDiff, Math.abs(a[k]! - b[k]!));
      }
      maxAbs = Math.max(maxAbs, rowDiff);
      maxRowRel = Math.max(maxRowRel, rowDiff / Math.max(rowMax, 1e-12));
    }
  }
  await cpu.close();
  summary.parity = {
    photos: tensors.length,
    provider: device.provider,
    maxAbsDiff: maxAbs,
    maxRelDiff: maxRowRel,
    goal: 1e-3,
    met: maxRowRel <= 1e-3,
  };
  log(
    `-- parity: max |Δ| ${maxAbs.toExponential(2)}, max relative |Δ| (per row, to its largest value) ${maxRowRel.toExponential(2)}`,
  );
  save();

  // 3. throughput: raw onnxruntime loop over pre-decoded tensors, and decode+preprocess alone on every core.
  const files = photosOf(DATA, LIMIT > 0 ? Math.min(THROUGHPUT_IMAGES, 16) : THROUGHPUT_IMAGES);
  log(`== throughput on ${files.length} photos, batch ${BATCH}`);
  gpu.phase('raw');
  const decoded = await decodeAll(files, device.transform, cores);
  const batches: Array<[Float32Array, number]> = [];
  for (let i = 0; i < decoded.length; i += BATCH)
    batches.push([stack(decoded, i, Math.min(BATCH, decoded.length - i)), Math.min(BATCH, decoded.length - i)]);
  await device.embed(batches[0]![0], batches[0]![1]); // warm-up: CUDA kernels, cuDNN algorithm search
  const rawRates: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    const t0 = process.hrtime.bigint();
    for (const [b, n] of batches) await device.embed(b, n);
    rawRates.push(decoded.length / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  await device.close();
  gpu.phase('preprocess');
  const preRates: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    const t0 = process.hrtime.bigint();
    await decodeAll(files, device.transform, cores);
    preRates.push(files.length / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  const median = (v: number[]): number => [...v].sort((x, y) => x - y)[v.length >> 1]!;
  const raw = median(rawRates);
  const pre = median(preRates);
  const ceiling = Math.min(raw, pre);
  summary.throughput = {
    images: files.length,
    extractImagesPerSecond: ex.imagesPerSecond,
    rawLoopImagesPerSecond: raw,
    preprocessImagesPerSecond: pre,
    preprocessThreads: cores,
    extractOverCeiling: ex.imagesPerSecond / ceiling,
    goal: 0.9,
    met: ex.imagesPerSecond >= 0.9 * ceiling,
  };
  log(
    `-- throughput: extract ${ex.imagesPerSecond.toFixed(1)}, raw loop ${raw.toFixed(1)}, preprocessing ${pre.toFixed(1)} img/s; extract / min = ${(ex.imagesPerSecond / ceiling).toFixed(2)} (goal ≥ 0.9)`,
  );

  // 4. memory.
  gpu.stop();
  summary.memory = {
    extractPeakRssMiB: Math.round(extract.peakRssMiB),
    measurePeakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    gpuPeakMiB: Object.keys(gpu.peaks).length ? gpu.peaks : null,
  };
  summary.finished = new Date().toISOString();
  save();
  log(`== done: ${path.join(OUT, 'summary.json')}`);
}

main().catch((e: unknown) => {
  summary.error = e instanceof Error ? e.message : String(e);
  save();
  process.stderr.write(`measure: ${summary.error}\n`);
  process.exit(1);
});
