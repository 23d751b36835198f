/**
 * Issue 3's cache and memory targets, measured on the real CLI (`node dist/cli.js extract`) under /usr/bin/time -v:
 *   1. a first run over 200 photos (peak RSS of a small run),
 *   2. a first run over the whole dataset into a fresh cache (wall time and peak RSS: one run, two figures),
 *   3. fully cached re-runs of that cache (wall time; median of REPS).
 * Both first runs really extract (fresh caches), so the RSS figures are those of inference, not of cache reads.
 *
 * Usage: node <compiled>/bench/extract/cli.js [REPS=3] [--smoke] [-- extra extract flags, e.g. --batch-size 8 --workers 1]
 *
 * --smoke runs the same three steps on a few photos (a first run over 4, a "full" run over 12, REPS default 1), to
 * check that the script works, not to measure. Without GNU time (CONVFEAT_GNU_TIME names another path), --smoke
 * times the CLI from this process and prints no peak RSS; a full run stops with a message instead.
 */
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import type { DatasetItem } from '../../src/dataset';
import {
  cliExtractArgs,
  DATA_ROOT,
  fromDist,
  linkFolder,
  machineLine,
  median,
  REPO_ROOT,
  runMain,
  sampleDistinct,
  tempDir,
} from './common';

const { scanDataset } = fromDist<typeof import('../../src/dataset')>('dataset/index');

const TIME = process.env.CONVFEAT_GNU_TIME ?? '/usr/bin/time';
const SMALL = 200;
const SMOKE_SMALL = 4;
const SMOKE_FULL = 12;

interface Run {
  wallSeconds: number;
  /** NaN when GNU time was not used (--smoke without it). */
  maxRssMiB: number;
  summary: {
    total: number;
    extracted: number;
    fromCache: number;
    failed: number;
    seconds: number;
    imagesPerSecond: number;
  };
}

/** "h:mm:ss" or "m:ss.ss" from GNU time's "Elapsed (wall clock)" line. */
function clockSeconds(text: string): number {
  return text.split(':').reduce((acc, part) => acc * 60 + Number(part), 0);
}

function extract(data: string, cache: string, extra: string[], gnuTime = true): Run {
  const cli = cliExtractArgs(data, cache, ['--json', ...extra]);
  if (!gnuTime) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, cli, { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 1 << 28 });
    const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0) throw new Error(`extract exited ${r.status}:\n${r.stderr}`);
    return { wallSeconds, maxRssMiB: NaN, summary: JSON.parse(r.stdout) };
  }
  const r = spawnSync(TIME, ['-v', process.execPath, ...cli], { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`extract exited ${r.status}:\n${r.stderr}`);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)/.exec(r.stderr);
  if (!rss || !wall) throw new Error(`no GNU time figures in:\n${r.stderr}`);
  return { wallSeconds: clockSeconds(wall[1]!), maxRssMiB: Number(rss[1]) / 1024, summary: JSON.parse(r.stdout) };
}

/** An ImageFolder of symbolic links to some photos, so the small run goes through the same scan as the full one. */
function subsetFolder(root: string, items: readonly DatasetItem[]): string {
  return linkFolder(
    root,
    items.map((item) => [item.relPath, item.path] as const),
  );
}

const mib = (run: Run): string => (Number.isNaN(run.maxRssMiB) ? 'n/a' : `${run.maxRssMiB.toFixed(0)} MiB`);

function show(label: string, run: Run): void {
  const s = run.summary;
  console.log(
    `${label.padEnd(30)} wall ${run.wallSeconds.toFixed(2).padStart(7)} s | extract ${s.seconds.toFixed(2).padStart(7)} s | ` +
      `${s.extracted} extracted, ${s.fromCache} from cache, ${s.failed} failed | ${s.imagesPerSecond.toFixed(1)} img/s | peak RSS ${mib(run)}`,
  );
}

async function main(): Promise<void> {
  const dash = process.argv.indexOf('--');
  const extra = dash >= 0 ? process.argv.slice(dash + 1) : [];
  const own = dash >= 0 ? process.argv.slice(2, dash) : process.argv.slice(2);
  const smoke = own.includes('--smoke');
  const reps = Number(own.filter((a) => a !== '--smoke')[0] ?? (smoke ? 1 : 3));
  const gnuTime = fs.existsSync(TIME);
  if (!gnuTime && !smoke) throw new Error(`${TIME} is missing: install GNU time (Debian: apt-get install time)`);
  console.log(machineLine());
  console.log(`data ${DATA_ROOT}, extra flags: ${extra.join(' ') || '(CLI defaults)'}`);
  if (smoke)
    console.log(
      `smoke run: ${SMOKE_SMALL} and ${SMOKE_FULL} photos instead of ${SMALL} and all, ${reps} cached re-run(s)`,
    );
  if (!gnuTime) console.log(`GNU time not found at ${TIME}: wall time measured from this process, no peak RSS`);
  const work = tempDir('convfeat-bench-cli-');
  try {
    const full = await scanDataset(DATA_ROOT);
    const small = subsetFolder(path.join(work, 'subset'), sampleDistinct(full.items, smoke ? SMOKE_SMALL : SMALL));
    const whole = smoke
      ? subsetFolder(path.join(work, 'subset-full'), sampleDistinct(full.items, SMOKE_FULL))
      : DATA_ROOT;
    const smallRun = extract(small, path.join(work, 'cache-small'), extra, gnuTime);
    show(`first run, ${smallRun.summary.total} photos`, smallRun);
    const first = extract(whole, path.join(work, 'cache-full'), extra, gnuTime);
    show(`first run, ${first.summary.total} photos`, first);
    const cached: Run[] = [];
    for (let r = 0; r < reps; r++) {
      cached.push(extract(whole, path.join(work, 'cache-full'), extra, gnuTime));
      show(`cached re-run ${r + 1}`, cached[r]!);
    }
    const cachedWall = median(cached.map((c) => c.wallSeconds));
    const cachedExtract = median(cached.map((c) => c.summary.seconds));
    console.log(machineLine());
    console.log(
      `cached re-run speed-up (process wall, median of ${reps}): ${(first.wallSeconds / cachedWall).toFixed(1)}x  (${first.wallSeconds.toFixed(1)} s / ${cachedWall.toFixed(2)} s)`,
    );
    console.log(
      `cached re-run speed-up (extract's own seconds):        ${(first.summary.seconds / cachedExtract).toFixed(1)}x  (${first.summary.seconds.toFixed(1)} s / ${cachedExtract.toFixed(2)} s)`,
    );
    if (!gnuTime) console.log(`peak RSS: n/a (no GNU time)`);
    else
      console.log(
        `peak RSS: ${first.maxRssMiB.toFixed(0)} MiB over ${first.summary.total} photos vs ${smallRun.maxRssMiB.toFixed(0)} MiB over ${smallRun.summary.total}: ${(first.maxRssMiB - smallRun.maxRssMiB).toFixed(0)} MiB more (${(((first.maxRssMiB - smallRun.maxRssMiB) * 2 ** 20) / 1e6).toFixed(0)} MB)`,
      );
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

runMain(main);
