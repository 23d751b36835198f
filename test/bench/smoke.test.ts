/**
 * The benchmarks still run: compiles bench/ once (dist/ is built by the jest global setup) and runs the orchestrator
 * `bench/run.ts --smoke` suite by suite in child processes, on a few photos and rows each. Checks the exit status and
 * that every script prints its figures (shape and positive numbers, not their values: these are not measurements).
 * Peers that may be missing (GNU time, LIBLINEAR, Python with torchvision) change what is expected, never whether
 * the rest runs: each branch below is decided the same way the scripts decide it.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { findPython, findTorchPython } from '../../bench/run';
import { findLiblinear } from '../../bench/solvers/liblinear';
import { REPO_ROOT, tmpDir } from '../support/data';
import { expectPeerInCi, testWithOptionalPeer } from '../support/peers';

const TSC = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const RUN = path.join(REPO_ROOT, 'bench', 'out', 'js', 'bench', 'run.js');
const GNU_TIME = process.env.CONVFEAT_GNU_TIME ?? '/usr/bin/time';

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function bench(args: string[]): Result {
  const r = spawnSync(process.execPath, [RUN, ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 240000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The output of one step: from its `== name:` header to its `-- name:` footer (or the next header). */
function section(out: string, name: string): string {
  const start = out.indexOf(`\n== ${name}:`);
  if (start < 0) throw new Error(`no step ${name} in:\n${out}`);
  const end = out.indexOf(`\n-- ${name}:`, start);
  const next = out.indexOf('\n== ', start + 1);
  return out.slice(start, end >= 0 ? end : next >= 0 ? next : undefined);
}

/** The numbers captured by `re` in `text` (which must match), each checked finite and positive. */
function positive(text: string, re: RegExp): number[] {
  const values = figures(text, re);
  for (const v of values) expect(v).toBeGreaterThan(0);
  return values;
}

/** Like positive, for figures that may round to 0 on a fast machine (sub-second timings of tiny problems). */
function figures(text: string, re: RegExp): number[] {
  const m = re.exec(text);
  if (!m) throw new Error(`${re} does not match:\n${text}`);
  const values = m.slice(1).map(Number);
  for (const v of values) {
    expect(Number.isFinite(v)).toBe(true);
    expect(v).toBeGreaterThanOrEqual(0);
  }
  return values;
}

function expectOk(r: Result, steps: string[]): void {
  if (r.code !== 0) throw new Error(`bench/run exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  for (const step of steps) expect(r.stdout).toMatch(new RegExp(`^-- ${step}: ok, [\\d.]+ s$`, 'm'));
}

const NUM = '(\\d+(?:\\.\\d+)?)';
const PYTHON = findPython();

beforeAll(() => {
  execFileSync(process.execPath, [TSC, '-p', path.join('bench', 'tsconfig.json')], { cwd: REPO_ROOT, stdio: 'pipe' });
}, 120000);

describe('bench smoke (bench/run.js --smoke)', () => {
  test('a usage error exits 2 and names the known suites', () => {
    const r = bench(['--only', 'nope']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown suite or step "nope"');
    expect(r.stderr).toContain('extract/throughput');
  });

  test('extract: throughput, overhead and the CLI under GNU time (or timed from outside without it)', () => {
    const r = bench(['--smoke', '--only', 'extract']);
    expectOk(r, ['extract/throughput', 'extract/overhead', 'extract/cli']);

    const throughput = section(r.stdout, 'extract/throughput');
    expect(throughput).toContain('8 distinct photos');
    // config | raw img/s med (best) | extract img/s med (best) | extract/raw med (per rep) | CPU ms/img raw, extract | in run
    positive(
      throughput,
      new RegExp(
        `^t2w1b4 +\\| ${NUM} \\(${NUM}\\) +\\| ${NUM} \\(${NUM}\\) +\\| ${NUM} \\(${NUM}\\) +\\| ${NUM}, ${NUM} +\\| ${NUM} %$`,
        'm',
      ),
    );

    const overhead = section(r.stdout, 'extract/overhead');
    expect(overhead).toContain('8 photos, stand-in backbone');
    positive(overhead, new RegExp(`^w1b4 +\\| +${NUM} \\| +${NUM} \\| +${NUM}$`, 'm'));

    const cli = section(r.stdout, 'extract/cli');
    const gnuTime = fs.existsSync(GNU_TIME);
    expectPeerInCi('GNU time', gnuTime, `${GNU_TIME}; Debian: apt-get install time`);
    const rss = gnuTime ? `${NUM} MiB` : 'n/a';
    const run = (label: string, counts: string) =>
      new RegExp(
        `^${label} +wall +${NUM} s \\| extract +${NUM} s \\| ${counts} \\| ([\\d.]+) img/s \\| peak RSS ${rss}$`,
        'm',
      );
    positive(cli, run('first run, 4 photos', '4 extracted, 0 from cache, 0 failed'));
    positive(cli, run('first run, 12 photos', '12 extracted, 0 from cache, 0 failed'));
    const [cachedWall] = figures(cli, run('cached re-run 1', '0 extracted, 12 from cache, 0 failed'));
    expect(cachedWall).toBeGreaterThan(0);
    positive(cli, new RegExp(`^cached re-run speed-up \\(process wall, median of 1\\): ${NUM}x`, 'm'));
    expect(cli).toMatch(/^cached re-run speed-up \(extract's own seconds\): +(\d+(\.\d+)?|Infinity)x/m);
    if (gnuTime)
      positive(cli, new RegExp(`^peak RSS: ${NUM} MiB over 12 photos vs ${NUM} MiB over 4: -?\\d+ MiB more`, 'm'));
    else expect(cli).toContain('GNU time not found at');
  });

  test('solvers: synthetic vs LIBLINEAR (when installed), the mini target, agreement, real embeddings of a tiny cache', () => {
    const r = bench(['--smoke', '--only', 'solvers']);
    expectOk(r, ['solvers/solvers', 'solvers/mini', 'solvers/agree', 'solvers/tiny-cache', 'solvers/real']);
    const liblinear = findLiblinear() !== undefined;
    expectPeerInCi('liblinear', liblinear);

    const solvers = section(r.stdout, 'solvers/solvers');
    expect(solvers).toContain('# synthetic 300 × 32, 3 classes (+300 test rows)');
    // Timings of 300-row problems can round to 0.00 s; accuracies must be positive.
    const row = (label: string, rows: number, tail = '') =>
      new RegExp(`^\\| ${label} \\| ${rows} \\| ${NUM} s \\|.*\\| ${NUM} %${tail} \\|$`, 'm');
    expect(figures(solvers, row('convfeat svm \\(dual CD, \\d threads\\)', 300))[1]).toBeGreaterThan(0);
    expect(figures(solvers, row('convfeat softmax \\(L-BFGS, \\d+ iterations, 1 thread\\)', 300))[1]).toBeGreaterThan(
      0,
    );
    const mlSvm = figures(solvers, row('ml-svm \\(one-vs-rest, C = 1\\)', 250, ` \\(ours on same rows: ${NUM} %\\)`));
    for (const v of mlSvm) expect(v).toBeGreaterThan(0);
    if (liblinear) {
      expect(figures(solvers, row('LIBLINEAR train -s 1 -B 1 \\(whole command\\)', 300))[1]).toBeGreaterThan(0);
      const [diff] = positive(solvers, /relative ‖W_convfeat − W_LIBLINEAR‖ \/ ‖W_LIBLINEAR‖ = (\d\.\d\de-\d+)/);
      expect(diff).toBeLessThan(0.1);
    } else {
      expect(solvers).toContain('LIBLINEAR: skipped (neither liblinear-train nor train found');
    }

    const mini = section(r.stdout, 'solvers/mini');
    positive(mini, new RegExp(`^svm fit with C search \\(${NUM} values of C, on val\\), 1022 × 2048, 8 classes`, 'm'));
    const [, acc] = positive(mini, new RegExp(`chosen C = ${NUM}, val accuracy ${NUM} %`));
    expect(acc).toBeGreaterThan(50);

    const agree = section(r.stdout, 'solvers/agree');
    if (liblinear) {
      const lines = agree.match(/max \|w_ours − w_liblinear\| = \S+/g) ?? [];
      expect(lines).toHaveLength(3);
      for (const line of lines) expect(Number(line.split('= ')[1])).toBeLessThan(1e-3);
    } else {
      expect(agree).toContain('LIBLINEAR not installed: skipped');
    }

    expect(section(r.stdout, 'solvers/tiny-cache')).toMatch(
      /27 images: 27 extracted, 0 from cache, 0 duplicates, 0 failed/,
    );
    const real = section(r.stdout, 'solvers/real');
    expect(real).toMatch(/: train 15 × 2048, val 6, test 6$/m);
    for (const head of ['svm     threads 2', 'svm     threads 1', 'softmax threads 2']) {
      const [, C, values, test] = figures(
        real,
        new RegExp(`^${head}  fit median ${NUM} s \\(.*\\)  C ([\\d.e+-]+)  C values ${NUM}  test ${NUM} %$`, 'm'),
      );
      for (const v of [C, values, test]) expect(v).toBeGreaterThan(0);
    }
  });

  test('preprocess: torchvision digests (when Python has it), parity, sharp against Pillow, throughput', () => {
    const r = bench(['--smoke', '--only', 'preprocess']);
    const python = PYTHON !== undefined;
    expectOk(r, [
      ...(python ? ['preprocess/tv-hashes'] : []),
      'preprocess/parity-all',
      'preprocess/sharp-vs-pil',
      'preprocess/throughput',
    ]);

    if (python) expect(section(r.stdout, 'preprocess/tv-hashes')).toMatch(/^7 images$/m);
    else expect(r.stdout).toContain('== preprocess/tv-hashes: skipped: no Python with torchvision');
    // A real check either way: 7 photos byte-identical to torchvision's digests (fresh, or the committed fixtures').
    expect(section(r.stdout, 'preprocess/parity-all')).toMatch(/^byte-identical to torchvision: 7 \/ 7 photos$/m);

    const sharpVsPil = section(r.stdout, 'preprocess/sharp-vs-pil');
    for (const kernel of ['linear', 'cubic', 'lanczos3']) {
      positive(
        sharpVsPil,
        new RegExp(
          `^sharp kernel '${kernel}': mean \\|Δ\\| ${NUM} levels \\(${NUM} in \\[0,1\\] units\\), max ${NUM}`,
          'm',
        ),
      );
    }

    const throughput = section(r.stdout, 'preprocess/throughput');
    expect(throughput).toMatch(/^16 Mini Natural Images photos/m);
    const lines = throughput.match(new RegExp(`${NUM} img/s  ${NUM} ms/img wall  ${NUM} ms/img CPU`, 'g')) ?? [];
    expect(lines).toHaveLength(5);
    for (const line of lines) positive(line, new RegExp(`${NUM} img/s  ${NUM} ms/img wall  ${NUM} ms/img CPU`));
  });

  test('peers and compare: convfeat, transformers.js and a raw onnxruntime loop on the same photos; convfeat end to end, the fine-tuning baseline (when PyTorch is there), the tables of both', () => {
    const r = bench(['--smoke', '--only', 'peers,compare']);
    const torch = findTorchPython() !== undefined;
    expectOk(r, [
      'peers/extract',
      'compare/convfeat',
      ...(torch ? ['compare/finetune-cpu', 'compare/finetune'] : []),
      'compare/table',
    ]);
    const out = section(r.stdout, 'peers/extract');
    expect(out).toContain('8 distinct photos, batch 4');
    // Same network and normalisation, different resizing: close, not equal.
    const [maxAbs, mean, min] = figures(out, /max \|Δ\| (\d+\.\d+), cosine mean (\d\.\d+) \(min (\d\.\d+)\)/);
    expect(maxAbs).toBeGreaterThan(0);
    expect(mean).toBeGreaterThan(0.98);
    expect(min).toBeGreaterThan(0.9);
    for (const label of ['raw onnxruntime loop', 'convfeat extract', 'transformers\\.js image-feature-extraction'])
      positive(out, new RegExp(`^${label}.* \\| +${NUM} \\| ${NUM} \\(`, 'm'));
    positive(out, new RegExp(`^convfeat / transformers\\.js throughput: ${NUM}×`, 'm'));

    const convfeat = section(r.stdout, 'compare/convfeat');
    expect(convfeat).toMatch(/^extract train \+ val: 32 photos in [\d.]+ s \(32 computed/m);
    for (const solver of ['svm', 'softmax']) {
      const [acc] = positive(
        convfeat,
        new RegExp(
          `^${solver}: test accuracy ${NUM} % \\(\\d+/16\\); train wall ${NUM} s; inference ${NUM} ms/image`,
          'm',
        ),
      );
      expect(acc).toBeGreaterThan(50); // 8 classes: chance is 12.5 %
    }
    if (torch) {
      positive(
        section(r.stdout, 'compare/finetune-cpu'),
        new RegExp(`^head: train ${NUM} ms/image, eval ${NUM} ms/image`, 'm'),
      );
      expect(section(r.stdout, 'compare/finetune')).toMatch(/^best val acc [\d.]+ at epoch 1; test acc [\d.]+;/m);
    } else {
      expect(r.stdout).toContain('== compare/finetune-cpu: skipped: no Python with torch');
      expect(r.stdout).toContain('== compare/finetune: skipped: no Python with torch');
    }

    const table = section(r.stdout, 'compare/table');
    expect(table).toMatch(/^\| \*\*convfeat `svm`\*\* .* \| 16,392 \| \*\*\d+\.\d\d %\*\* \(\d+\/16\) \|/m);
    expect(table).toContain('| reference: the original demonstration, fine-tuned ResNet18 | GPU | 11.2 M | 97 % |');
    expect(table).toMatch(/^\| transformers\.js `image-feature-extraction` \| [\d.]+ \| [\d.]+ \| not run \|$/m);
    expect(table).toMatch(/Not measured yet .*`finetune-gpu\/finetune-head\.json`/);
  });

  // Skipped (and reported as skipped) without a Python that has torchvision, Pillow and NumPy; CI does not install
  // PyTorch (about 1 GB), and preprocess/parity-all checks the committed digests either way.
  testWithOptionalPeer(
    'Python with torchvision',
    PYTHON !== undefined,
    'python3 or CONVFEAT_PYTHON with torchvision, Pillow and NumPy; see bench/preprocess/README.md',
  )('make_fixtures.py reproduces the committed parity digests (needs Python with torchvision)', () => {
    const out = path.join(tmpDir('fixtures'), 'fixtures.json');
    const r = spawnSync(PYTHON!, [path.join(REPO_ROOT, 'bench', 'preprocess', 'make_fixtures.py'), '--out', out], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 120000,
    });
    if (r.status !== 0) throw new Error(`make_fixtures.py exited ${r.status}:\n${r.stderr}`);
    const committed = JSON.parse(
      fs.readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'preprocess', 'fixtures.json'), 'utf8'),
    );
    const fresh = JSON.parse(fs.readFileSync(out, 'utf8'));
    // The versions line may differ on another machine; every digest must not.
    expect({ ...fresh, generator: undefined }).toEqual({ ...committed, generator: undefined });
    fs.rmSync(path.dirname(out), { recursive: true, force: true });
  });
});
