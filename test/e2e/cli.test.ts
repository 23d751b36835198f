/**
 * The CLI as users run it (compiled dist/cli.js, built by the jest global setup): exit codes, one-sentence errors,
 * JSON output, and resuming an extraction killed with SIGKILL.
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { EmbeddingStore } from '../../src/cache';
import { photos, REPO_ROOT, tmpDir } from '../support/data';
import { writeTinyBackbone } from '../support/tinyBackbone';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const work = tmpDir('cli');
const model = writeTinyBackbone(work);
const data = path.join(work, 'data');
for (const cls of ['airplane', 'car', 'fruit']) {
  fs.mkdirSync(path.join(data, cls), { recursive: true });
  for (const p of photos('train', cls, 40)) fs.copyFileSync(p, path.join(data, cls, path.basename(p)));
}

describe('convfeat CLI', () => {
  test('usage errors exit 2 with a sentence naming the parameter', () => {
    expect(run([]).code).toBe(2);
    const bad = run([
      'extract',
      '--model',
      model,
      '--data',
      data,
      '--cache',
      path.join(work, 'c0'),
      '--batch-size',
      '0',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Expected --batch-size to be an integer between 1 and 1024 but received 0');
    const missing = run([
      'extract',
      '--model',
      model,
      '--data',
      path.join(work, 'nope'),
      '--cache',
      path.join(work, 'c0'),
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope/);
    const unknownModel = run(['extract', '--model', 'resnet51', '--data', data, '--cache', path.join(work, 'c0')]);
    expect(unknownModel.code).toBe(2);
    expect(unknownModel.stderr).toMatch(/resnet50/);
    const device = run([
      'extract',
      '--model',
      model,
      '--data',
      data,
      '--cache',
      path.join(work, 'c0'),
      '--device',
      'gpu',
    ]);
    expect(device.code).toBe(2);
    expect(device.stderr).toContain('Expected --device to be one of auto, cpu, cuda, cuda:N but received "gpu"');
    // An invalid choice stops at the parser: the command itself must not run (one error, no second message).
    const solver = run([
      'fit-linear',
      '--cache',
      path.join(work, 'c0'),
      '--out',
      path.join(work, 'x.json'),
      '--solver',
      'foo',
    ]);
    expect(solver.code).toBe(2);
    expect(solver.stderr.match(/^convfeat:/gm)).toHaveLength(1);
    expect(fs.existsSync(path.join(work, 'x.json'))).toBe(false);
    for (const r of [bad, missing, unknownModel, device, solver]) expect(r.stderr).not.toMatch(/\n\s+at /); // no stack traces
  });

  test('a file that is not an ONNX model fails with exit 1 and one sentence', () => {
    const fake = path.join(work, 'fake.onnx');
    fs.writeFileSync(fake, 'definitely not protobuf');
    const r = run(['extract', '--model', fake, '--data', data, '--cache', path.join(work, 'c1')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/fake\.onnx is not/);
    expect(fs.existsSync(path.join(work, 'c1', 'cache.json'))).toBe(false);
  });

  test('extract --json reports counts and the provider; a rerun comes from the cache', () => {
    const cache = path.join(work, 'c2');
    const first = run(['extract', '--model', model, '--data', data, '--cache', cache, '--json', '--device', 'auto']);
    expect(first.code).toBe(0);
    const s = JSON.parse(first.stdout);
    expect(s).toMatchObject({ total: 120, extracted: 120, failed: 0, provider: 'cpu' });
    const again = JSON.parse(run(['extract', '--model', model, '--data', data, '--cache', cache, '--json']).stdout);
    expect(again).toMatchObject({ extracted: 0, fromCache: 120 });
    const exported = run(['cache', 'export', '--cache', cache, '--out', path.join(work, 'export'), '--json']);
    expect(exported.code).toBe(0);
    expect(
      fs
        .readFileSync(path.join(work, 'export', 'paths.txt'), 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(120);
  });

  test('SIGKILL mid-run loses at most the batch in flight; the next run resumes without duplicates', async () => {
    const cache = path.join(work, 'c3');
    const index = path.join(cache, 'index.jsonl');
    const child = spawn(
      process.execPath,
      [
        CLI,
        'extract',
        '--model',
        model,
        '--data',
        data,
        '--cache',
        cache,
        '--batch-size',
        '2',
        '--workers',
        '1',
        '--quiet',
      ],
      {
        stdio: 'ignore',
      },
    );
    const linesNow = (): number =>
      fs.existsSync(index) ? fs.readFileSync(index, 'utf8').split('\n').filter(Boolean).length : 0;
    const deadline = Date.now() + 60000;
    while (linesNow() < 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const storedBeforeKill = linesNow();
    expect(storedBeforeKill).toBeGreaterThanOrEqual(10);
    expect(storedBeforeKill).toBeLessThan(120); // killed mid-run, not after

    const resumed = run(['extract', '--model', model, '--data', data, '--cache', cache, '--json']);
    expect(resumed.code).toBe(0);
    const s = JSON.parse(resumed.stdout);
    expect(s.fromCache).toBeGreaterThanOrEqual(storedBeforeKill - 2);
    expect(s.fromCache + s.extracted).toBe(120);

    const lines = fs.readFileSync(index, 'utf8').split('\n').filter(Boolean);
    const hashes = lines.map((l) => JSON.parse(l).h as string);
    expect(new Set(hashes).size).toBe(hashes.length);
    // Every row equals the row a clean, uninterrupted run computed for the same image.
    const resumedStore = EmbeddingStore.open(cache, { mode: 'read' });
    const clean = EmbeddingStore.open(path.join(work, 'c2'), { mode: 'read' });
    const all = [...clean.hashes()];
    expect(resumedStore.size).toBe(all.length);
    const a = resumedStore.gather(all);
    const b = clean.gather(all);
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
    expect(maxDiff).toBeLessThan(1e-6);
    resumedStore.close();
    clean.close();
  });

  test('fit-linear --no-val, --out checks, and a failed predict never replaces an earlier output', () => {
    const cache = path.join(work, 'c2'); // written by the --json test above (one split-less listing)
    const noVal = run(['fit-linear', '--cache', cache, '--out', path.join(work, 'clf.json'), '--no-val', '--json']);
    expect(noVal.code).toBe(0);
    expect(JSON.parse(noVal.stdout)).toMatchObject({ cSelection: 'cv' });
    const dirOut = run(['fit-linear', '--cache', cache, '--out', work]);
    expect(dirOut.code).toBe(2);
    expect(dirOut.stderr).toMatch(/is a directory/);

    const bad = path.join(work, 'only-bad');
    fs.mkdirSync(bad, { recursive: true });
    fs.writeFileSync(path.join(bad, 'broken.jpg'), 'not a jpeg');
    const preds = path.join(work, 'preds.csv');
    fs.writeFileSync(preds, 'earlier output\n');
    const failed = run([
      'predict',
      '--classifier',
      path.join(work, 'clf.json'),
      '--model',
      model,
      '--data',
      bad,
      '--out',
      preds,
    ]);
    expect(failed.code).toBe(1);
    expect(fs.readFileSync(preds, 'utf8')).toBe('earlier output\n');
    expect(fs.readdirSync(work).filter((n) => n.startsWith('.preds.csv'))).toEqual([]);
  });

  test('Ctrl-C (SIGINT) during extract releases the lock and keeps the stored batches', async () => {
    const cache = path.join(work, 'c4');
    const index = path.join(cache, 'index.jsonl');
    const child = spawn(
      process.execPath,
      [CLI, 'extract', '--model', model, '--data', data, '--cache', cache, '--batch-size', '2', '--quiet'],
      {
        stdio: 'ignore',
      },
    );
    const deadline = Date.now() + 60000;
    const lines = (): number =>
      fs.existsSync(index) ? fs.readFileSync(index, 'utf8').split('\n').filter(Boolean).length : 0;
    while (lines() < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(code).toBe(130);
    expect(fs.existsSync(path.join(cache, 'lock'))).toBe(false);
    const resumed = JSON.parse(run(['extract', '--model', model, '--data', data, '--cache', cache, '--json']).stdout);
    expect(resumed.fromCache).toBeGreaterThanOrEqual(6);
    expect(resumed.fromCache + resumed.extracted).toBe(120);
  });
});
