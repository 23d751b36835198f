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
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
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
