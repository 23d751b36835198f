/**
 * bench/gpu/run.sh, the GPU proof, in its CPU dry run: the same steps (extract through the CLI, fit-linear and
 * evaluate for both solvers, parity against CPU, raw loop and preprocessing throughput, memory) on one photo per
 * class and split, and its summary.json. Also: a bundle with a missing piece is refused before anything runs.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT, tmpDir } from '../support/data';

const RUN = path.join(REPO_ROOT, 'bench', 'gpu', 'run.sh');

// dist/ is fresh (jest's global setup); the compiled bench may be stale, and run.sh only builds what is missing.
beforeAll(() => {
  const tsc = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(REPO_ROOT, 'bench', 'tsconfig.json')], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`bench does not compile:\n${r.stdout}${r.stderr}`);
}, 120000);

test('run.sh --dry-run measures every step on CPU and writes summary.json and log.txt', () => {
  const out = path.join(tmpDir('gpu-run'), 'out');
  const r = spawnSync('bash', [RUN, '--dry-run', '--limit', '1', '--out', out], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 280000,
  });
  if (r.status !== 0) throw new Error(`run.sh exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  const s = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as Record<string, any>;
  expect(s.error).toBeUndefined();
  // Every step must have run; if one is missing, show what the run printed (its log and both streams).
  for (const step of ['extract', 'accuracy', 'parity', 'throughput', 'memory']) {
    if (s[step] === undefined) {
      const log = fs.existsSync(path.join(out, 'log.txt')) ? fs.readFileSync(path.join(out, 'log.txt'), 'utf8') : '';
      throw new Error(`summary.json has no ${step} step\n${log}\n${r.stdout}\n${r.stderr}`);
    }
  }
  expect(s.device).toBe('cpu');
  // 8 classes × 3 splits × 1 photo.
  expect(s.extract).toMatchObject({ provider: 'cpu', extracted: 24, failed: 0 });
  expect(s.extract.imagesPerSecond).toBeGreaterThan(0);
  for (const solver of ['svm', 'softmax']) {
    expect(s.accuracy[solver].split).toBe('test');
    expect(s.accuracy[solver].accuracy).toBeGreaterThanOrEqual(0);
    expect(s.accuracy[solver].accuracy).toBeLessThanOrEqual(1);
  }
  expect(s.parity).toMatchObject({ provider: 'cpu', maxRelDiff: 0, met: true });
  expect(s.parity.photos).toBeGreaterThan(0);
  for (const k of ['rawLoopImagesPerSecond', 'preprocessImagesPerSecond', 'extractOverCeiling'])
    expect(s.throughput[k]).toBeGreaterThan(0);
  expect(s.memory.extractPeakRssMiB).toBeGreaterThan(50);
  expect(s.gpuCheck.onnxruntime.version).toBe('1.29.0');
  const log = fs.readFileSync(path.join(out, 'log.txt'), 'utf8');
  expect(log).toContain('== measure');
  expect(log).toMatch(/-- throughput: extract [\d.]+, raw loop [\d.]+, preprocessing [\d.]+ img\/s/);
  // Caches and the subset are removed; only the results stay.
  expect(fs.readdirSync(out).filter((n) => n.startsWith('cache-') || n.startsWith('data-subset'))).toEqual([]);
});

test('run.sh --bundle refuses a bundle with a missing piece before unpacking anything', () => {
  const bundle = tmpDir('gpu-bundle');
  fs.writeFileSync(path.join(bundle, 'convfeat-gpu.tgz.part-000'), 'x');
  fs.writeFileSync(
    path.join(bundle, 'SHA256SUMS'),
    '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881  convfeat-gpu.tgz.part-000\n' +
      '0000000000000000000000000000000000000000000000000000000000000000  convfeat-gpu.tgz.part-001\n',
  );
  const r = spawnSync('bash', [RUN, '--bundle', bundle, '--out', path.join(bundle, 'out')], { encoding: 'utf8' });
  expect(r.status).toBe(1);
  expect(r.stdout).toContain(`run.sh: a piece is missing or damaged (sha256sum -c SHA256SUMS in ${bundle})`);
  expect(fs.existsSync(path.join(bundle, 'unpacked'))).toBe(false);
});
