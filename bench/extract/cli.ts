/**
 * Issue 3's cache and memory targets, measured on the real CLI (`node dist/cli.js extract`) under /usr/bin/time -v:
 *   1. a first run over 200 photos (peak RSS of a small run),
 *   2. a first run over the whole dataset into a fresh cache (wall time and peak RSS: one run, two figures),
 *   3. fully cached re-runs of that cache (wall time; median of REPS).
 * Both first runs really extract (fresh caches), so the RSS figures are those of inference, not of cache reads.
 *
 * Usage: node <compiled>/bench/extract/cli.js [REPS=3] [-- extra extract flags, e.g. --batch-size 8 --workers 1]
 */
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import type { DatasetItem } from '../../src/dataset';
import { DATA_ROOT, fromDist, machineLine, median, REPO_ROOT, sampleDistinct, tempDir } from './common';

const { scanDataset } = fromDist<typeof import('../../src/dataset')>('dataset/index');

const TIME = '/usr/bin/time';
const SMALL = 200;

interface Run {
  wallSeconds: number;
  maxRssMiB: number;
  summary: { total: number; extracted: number; fromCache: number; failed: number; seconds: number; imagesPerSecond: number };
}

/** "h:mm:ss" or "m:ss.ss" from GNU time's "Elapsed (wall clock)" line. */
function clockSeconds(text: string): number {
  return text.split(':').reduce((acc, part) => acc * 60 + Number(part), 0);
}

function extract(data: string, cache: string, extra: string[]): Run {
  const args = ['-v', process.execPath, path.join(REPO_ROOT, 'dist', 'cli.js'), 'extract', '--model', 'resnet50', '--data', data, '--cache', cache, '--json', ...extra];
  const r = spawnSync(TIME, args, { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`extract exited ${r.status}:\n${r.stderr}`);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)/.exec(r.stderr);
  if (!rss || !wall) throw new Error(`no GNU time figures in:\n${r.stderr}`);
  return { wallSeconds: clockSeconds(wall[1]!), maxRssMiB: Number(rss[1]) / 1024, summary: JSON.parse(r.stdout) };
}

/** An ImageFolder of symbolic links to some photos, so the small run goes through the same scan as the full one. */
function subsetFolder(root: string, items: readonly DatasetItem[]): string {
  for (const item of items) {
    const target = path.join(root, item.relPath);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.symlinkSync(item.path, target);
  }
  return root;
}

function show(label: string, run: Run): void {
  const s = run.summary;
  console.log(
    `${label.padEnd(30)} wall ${run.wallSeconds.toFixed(2).padStart(7)} s | extract ${s.seconds.toFixed(2).padStart(7)} s | ` +
      `${s.extracted} extracted, ${s.fromCache} from cache, ${s.failed} failed | ${s.imagesPerSecond.toFixed(1)} img/s | peak RSS ${run.maxRssMiB.toFixed(0)} MiB`,
  );
}

async function main(): Promise<void> {
  if (!fs.existsSync(TIME)) throw new Error(`${TIME} is missing: install GNU time (Debian: apt-get install time)`);
  const dash = process.argv.indexOf('--');
  const extra = dash >= 0 ? process.argv.slice(dash + 1) : [];
  const reps = Number((dash >= 0 ? process.argv.slice(2, dash) : process.argv.slice(2))[0] ?? 3);
  console.log(machineLine());
  console.log(`data ${DATA_ROOT}, extra flags: ${extra.join(' ') || '(CLI defaults)'}`);
  const work = tempDir('convfeat-bench-cli-');
  try {
    const full = await scanDataset(DATA_ROOT);
    const small = subsetFolder(path.join(work, 'subset'), sampleDistinct(full.items, SMALL));
    const smallRun = extract(small, path.join(work, 'cache-small'), extra);
    show(`first run, ${smallRun.summary.total} photos`, smallRun);
    const first = extract(DATA_ROOT, path.join(work, 'cache-full'), extra);
    show(`first run, ${first.summary.total} photos`, first);
    const cached: Run[] = [];
    for (let r = 0; r < reps; r++) {
      cached.push(extract(DATA_ROOT, path.join(work, 'cache-full'), extra));
      show(`cached re-run ${r + 1}`, cached[r]!);
    }
    const cachedWall = median(cached.map((c) => c.wallSeconds));
    const cachedExtract = median(cached.map((c) => c.summary.seconds));
    console.log(machineLine());
    console.log(`cached re-run speed-up (process wall, median of ${reps}): ${(first.wallSeconds / cachedWall).toFixed(1)}x  (${first.wallSeconds.toFixed(1)} s / ${cachedWall.toFixed(2)} s)`);
    console.log(`cached re-run speed-up (extract's own seconds):        ${(first.summary.seconds / cachedExtract).toFixed(1)}x  (${first.summary.seconds.toFixed(1)} s / ${cachedExtract.toFixed(2)} s)`);
    console.log(`peak RSS: ${first.maxRssMiB.toFixed(0)} MiB over ${first.summary.total} photos vs ${smallRun.maxRssMiB.toFixed(0)} MiB over ${smallRun.summary.total}: ${(first.maxRssMiB - smallRun.maxRssMiB).toFixed(0)} MiB more (${(((first.maxRssMiB - smallRun.maxRssMiB) * 2 ** 20) / 1e6).toFixed(0)} MB)`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
