/**
 * int8 through the CLI on a user's ONNX file and real photos: `models quantize` writes the range table beside the
 * model, `--precision int8` uses it, the cache and the classifier record the precision, the other precision is
 * refused, predict and the fused export follow the classifier's precision.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { loadModel } from '../../src/backbone/graph/proto';
import { photos, REPO_ROOT, tmpDir } from '../support/data';
import { writeTinyBackbone } from '../support/tinyBackbone';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const work = tmpDir('int8-cli');
const model = writeTinyBackbone(work);
const data = path.join(work, 'data');
for (const cls of ['airplane', 'car', 'fruit']) {
  fs.mkdirSync(path.join(data, cls), { recursive: true });
  for (const p of photos('train', cls, 8)) fs.copyFileSync(p, path.join(data, cls, path.basename(p)));
}

test('models quantize, extract --precision int8, the other precision refused, predict and export follow the classifier', () => {
  const q = run(['models', 'quantize', model, '--calibrate', data, '--images', '6', '--json']);
  expect(q.stderr).not.toMatch(/unexpected error/);
  expect(q.code).toBe(0);
  const summary = JSON.parse(q.stdout) as Record<string, any>;
  expect(summary.table).toBe(path.join(work, 'tiny.int8.json'));
  expect(summary.images).toBe(6); // two per class, train order
  expect(summary.summary.quantized).toBe(1); // the Conv; the Gemm head is cut off before quantising
  expect(summary.summary.keptFp32).toEqual({ Relu: 1, GlobalAveragePool: 1 });
  expect(summary.summary.sharedScale).toEqual({});
  expect(summary.cosine.mean).toBeGreaterThan(0.99); // the int8 graph ran and agrees with fp32
  expect(summary.cosine.min).toBeLessThanOrEqual(summary.cosine.mean);
  expect(fs.existsSync(summary.onnx)).toBe(true);
  const ops = (loadModel(summary.onnx).graph!.node ?? []).map((n) => n.opType);
  expect(ops).toContain('QuantizeLinear');

  const cache = path.join(work, 'cache-int8');
  const ex = run(['extract', '--model', model, '--data', data, '--cache', cache, '--precision', 'int8', '--json']);
  expect(ex.code).toBe(0);
  const meta = JSON.parse(fs.readFileSync(path.join(cache, 'cache.json'), 'utf8'));
  expect(meta.model).toBe('tiny@int8');

  const fp32 = run(['extract', '--model', model, '--data', data, '--cache', cache]);
  expect(fp32.code).toBe(1);
  expect(fp32.stderr).toMatch(/This cache holds embeddings from model tiny@int8 .*--model tiny@int8/);

  const clf = path.join(work, 'clf.json');
  expect(run(['fit-linear', '--cache', cache, '--out', clf, '--C', '1', '--json']).code).toBe(0);
  expect(JSON.parse(fs.readFileSync(clf, 'utf8')).backbone.model).toBe('tiny@int8');
  // No --precision: predict uses the classifier's int8 backbone (fp32 would have another fingerprint and be refused).
  const preds = path.join(work, 'preds.csv');
  const p = run(['predict', '--classifier', clf, '--model', model, '--data', data, '--out', preds, '--quiet']);
  expect(p.stderr).toBe('');
  expect(p.code).toBe(0);
  const wrong = run([
    'predict',
    '--classifier',
    clf,
    '--model',
    model,
    '--precision',
    'fp32',
    '--data',
    data,
    '--out',
    preds,
  ]);
  expect(wrong.code).toBe(1);
  expect(wrong.stderr).toMatch(
    /fitted on int8 embeddings \(tiny@int8\) but --precision fp32 was asked for; drop --precision/,
  );
  const fused = path.join(work, 'fused.onnx');
  expect(run(['export', '--classifier', clf, '--model', model, '--out', fused, '--quiet']).code).toBe(0);
  expect((loadModel(fused).graph!.node ?? []).some((n) => n.opType === 'QuantizeLinear')).toBe(true);
});

test('--precision int8 without a range table, or an unknown precision, is one sentence and exit 2', () => {
  const lonely = tmpDir('int8-none');
  const bare = writeTinyBackbone(lonely, 'bare.onnx');
  const r = run(['extract', '--model', bare, '--data', data, '--cache', path.join(lonely, 'c'), '--precision', 'int8']);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/bare\.int8\.json.*convfeat models quantize/);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  const bad = run([
    'extract',
    '--model',
    bare,
    '--data',
    data,
    '--cache',
    path.join(lonely, 'c'),
    '--precision',
    'fp16',
  ]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/Expected --precision to be fp32 or int8 but received "fp16"/);
  const conflict = run(['extract', '--model', 'resnet50@int8', '--precision', 'fp32', '--data', data, '--cache', 'x']);
  expect(conflict.code).toBe(2);
  expect(conflict.stderr).toMatch(/names precision int8 but --precision is fp32/);
});
