/** Shared helpers for the extraction benchmarks: where things are, which photos, the machine, medians. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createHash } from 'crypto';
import type { DatasetItem } from '../../src/dataset';

/** The checkout root (the folder with package.json), from source or from the compiled copy under bench/out. */
function findRepoRoot(dir: string): string {
  for (let d = dir; d !== path.dirname(d); d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'package.json')) && fs.existsSync(path.join(d, 'src'))) return d;
  }
  return dir;
}

export const REPO_ROOT = findRepoRoot(__dirname);

export const DATA_ROOT = process.env.CONVFEAT_DATA
  ? path.resolve(process.env.CONVFEAT_DATA)
  : path.resolve(REPO_ROOT, '..', 'shared', 'data', 'mini_natural_images');

/**
 * n items spread evenly over the scanned list (every class and split represented), skipping byte-identical
 * duplicates: extract computes a duplicate once, the raw loop would run it again, and the ratio would flatter extract.
 */
export function sampleDistinct(items: readonly DatasetItem[], n: number): DatasetItem[] {
  const seen = new Set<string>();
  const out: DatasetItem[] = [];
  const step = Math.max(1, Math.floor(items.length / n));
  for (let start = 0; start < step && out.length < n; start++) {
    for (let i = start; i < items.length && out.length < n; i += step) {
      const hash = createHash('sha256').update(fs.readFileSync(items[i]!.path)).digest('hex');
      if (seen.has(hash)) continue;
      seen.add(hash);
      out.push(items[i]!);
    }
  }
  return out;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values: nothing was measured');
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Wall time and the CPU time of every thread of this process. */
export interface Timing {
  seconds: number;
  cpuSeconds: number;
}

/** Times one run: wall clock and process CPU (user + system, all threads, so worker threads count too). */
export async function timed(fn: () => Promise<void>): Promise<Timing> {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await fn();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  return { seconds, cpuSeconds: (c.user + c.system) / 1e6 };
}

/** One line saying what ran the benchmark: the figures mean little without it. */
export function machineLine(): string {
  let cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpu = m[1]!.trim();
  } catch {
    // not Linux: os.cpus() is good enough
  }
  const load = os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  return `${new Date().toISOString()}  ${os.availableParallelism()} cores (${cpu}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}, load average ${load}`;
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * A module of the built package (dist/, made by `npx tsc -p tsconfig.build.json`): the benchmarks time exactly the
 * code the CLI runs, and dist/ finds its worker script and model manifest where a user's install does.
 */
export function fromDist<T>(relFromSrc: string): T {
  const file = path.join(REPO_ROOT, 'dist', `${relFromSrc}.js`);
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run \`npx tsc -p tsconfig.build.json\` first`);
  return require(file) as T;
}

/** Writes a benchmark's JSON summary (creating its folder) and says where. */
export function writeSummary(file: string, summary: unknown): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
  console.log(`wrote ${file}`);
}

/** A wrong benchmark argument: printed as one sentence, exit status 2. */
export class BenchUsageError extends Error {
  readonly exitCode = 2;
}

/** The value after `--name`, or undefined when the flag is absent; a flag without a value is a usage error. */
export function flag(name: string, argv: readonly string[] = process.argv): string | undefined {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = argv[i + 1];
  if (v === undefined || v.startsWith('--')) throw new BenchUsageError(`--${name} needs a value`);
  return v;
}

/** An integer of at least `min` from `raw` (a flag's or a positional argument's text), or `fallback` when absent. */
export function intArg(what: string, raw: string | undefined, fallback: number, min = 1): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min)
    throw new BenchUsageError(
      `Expected ${what} to be an integer of at least ${min} but received ${JSON.stringify(raw)}`,
    );
  return v;
}

/** A positive number from `--name X`, or `fallback`. */
export function numberFlag(name: string, fallback: number): number {
  const raw = flag(name);
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!(v > 0) || !Number.isFinite(v))
    throw new BenchUsageError(`Expected --${name} to be a positive number but received ${JSON.stringify(raw)}`);
  return v;
}

/** `intArg` for `--name N`. */
export function intFlag(name: string, fallback: number, min = 1): number {
  return intArg(`--${name}`, flag(name), fallback, min);
}

/** What a failed benchmark prints: the sentence of a usage or library error, the stack of anything else (a bug). */
function report(e: unknown): void {
  const code = (e as { exitCode?: unknown })?.exitCode;
  if (e instanceof Error && (code === 1 || code === 2)) {
    console.error(`bench: ${e.message}`);
    process.exitCode = code;
  } else {
    console.error(e);
    process.exitCode = 1;
  }
}

// Options read at a script's top level (before main) fail here, with the same one sentence.
process.on('uncaughtException', (e) => {
  report(e);
  process.exit();
});

/**
 * Runs a benchmark's main: a usage error or an error the library raised for the user (a ConvfeatError, with its
 * exitCode) prints its sentence alone; anything else is a bug in the benchmark and keeps its stack.
 */
export function runMain(main: () => Promise<void> | void): void {
  Promise.resolve().then(main).catch(report);
}

/** An ImageFolder of symbolic links at `root`: relPath → absolute target, so a subset goes through the same scan. */
export function linkFolder(root: string, links: ReadonlyArray<readonly [rel: string, target: string]>): string {
  for (const [rel, target] of links) {
    const at = path.join(root, rel);
    fs.mkdirSync(path.dirname(at), { recursive: true });
    if (!fs.existsSync(at)) fs.symlinkSync(target, at);
  }
  return root;
}

/** The arguments of `node dist/cli.js extract` with the real ResNet50 over `data` into `cache`. */
export function cliExtractArgs(data: string, cache: string, extra: readonly string[] = []): string[] {
  return [
    path.join(REPO_ROOT, 'dist', 'cli.js'),
    'extract',
    '--model',
    'resnet50',
    '--data',
    data,
    '--cache',
    cache,
    ...extra,
  ];
}

/** The data root must exist before a benchmark scans it. */
export function requireDataRoot(): string {
  if (!fs.existsSync(DATA_ROOT))
    throw new BenchUsageError(
      `${DATA_ROOT} does not exist: set CONVFEAT_DATA to a Mini Natural Images folder (train/, val/, test/)`,
    );
  return DATA_ROOT;
}

/** The first k items of each split/class pair (all of them when k is undefined): smoke-sized runs of a dataset. */
export function firstPerClass<T extends { split?: string; label?: string }>(items: T[], k: number | undefined): T[] {
  if (k === undefined) return items;
  const seen = new Map<string, number>();
  return items.filter((item) => {
    const key = `${item.split}/${item.label}`;
    const n = seen.get(key) ?? 0;
    seen.set(key, n + 1);
    return n < k;
  });
}
