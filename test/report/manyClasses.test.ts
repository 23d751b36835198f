/**
 * Thousands of classes (issue 13 item 3): ImageNet has 1,000, iNaturalist 10,000. The text metrics crashed at 400
 * classes (a spread over K² values) and the report at 1,000. Here fit-linear, evaluate (text, --json, --report),
 * predict and export run through the CLI on a synthetic 10,000-class cache of tiny 8-d embeddings.
 */
import { spawnSync } from 'child_process';
import { parse } from 'csv-parse/sync';
import * as fs from 'fs';
import * as path from 'path';
import { loadModel } from '../../src/backbone/graph/proto';
import { EmbeddingStore, readMeta } from '../../src/cache';
import { ListingWriter } from '../../src/cache/listing';
import { Prng } from '../../src/util/prng';
import { classificationMetrics, formatMetricsTable, metricsToJson } from '../../src/report/metrics';
import { confusionView } from '../../src/report/confusion';
import { sha256Hex } from '../../src/util/hash';
import { photos, REPO_ROOT, tmpDir } from '../support/data';
import { writeTinyBackbone } from '../support/tinyBackbone';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  // maxBuffer: evaluate --json at 10,000 classes prints a few MB (one entry per class).
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 300000, maxBuffer: 1 << 28 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Labels with a few hard pairs: every 7th test row predicted as its neighbour class. */
function predictions(K: number, n: number): { yTrue: Int32Array; yPred: Int32Array } {
  const yTrue = new Int32Array(n);
  const yPred = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    yTrue[i] = i % K;
    yPred[i] = i % 7 === 0 ? (yTrue[i]! + 1) % K : yTrue[i]!;
  }
  return { yTrue, yPred };
}

describe('metrics at 400, 1,000 and 10,000 classes', () => {
  test.each([400, 1000, 10000])('%i classes: the text table lists the top confusions; JSON stays small', (K) => {
    const classes = Array.from({ length: K }, (_, k) => `n${String(k).padStart(8, '0')}`);
    const { yTrue, yPred } = predictions(K, 2 * K);
    const m = classificationMetrics(yTrue, yPred, classes);
    expect(m.accuracy).toBeCloseTo(1 - Math.ceil((2 * K) / 7) / (2 * K), 9);
    const text = formatMetricsTable(m);
    expect(text).toMatch(new RegExp(`top 30 confusions of ${K} classes`));
    expect(text).toContain(`${classes[0]} → ${classes[1]}: 1 (50.0 %)`);
    expect(text.split('\n').length).toBeLessThan(K + 50); // one line per class, not a K-column matrix
    const json = metricsToJson(m);
    if (K > 1000) {
      expect(json.confusion).toBeUndefined();
      const cells = json.confusionCells as Array<[number, number, number]>;
      expect(cells.reduce((s, c) => s + c[2], 0)).toBe(2 * K);
      expect(cells).toContainEqual([0, 1, 1]);
    } else expect((json.confusion as number[][]).length).toBe(K);
    const view = confusionView(m.confusion, classes);
    expect(view.classes).toHaveLength(40);
    expect(view.note).toBe(`the 40 classes with the most errors of ${K}`);
  });
});

describe('the CLI at 10,000 classes', () => {
  const K = 10000;
  const work = tmpDir('many-classes');
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
  const model = writeTinyBackbone(work);

  test('fit-linear, evaluate (text, JSON, report), predict and export work', () => {
    // The tiny backbone's identity from a real extraction, so predict and export accept the classifier.
    const photoDir = path.join(work, 'photos', 'x');
    fs.mkdirSync(photoDir, { recursive: true });
    for (const p of photos('test', 'cat', 3)) fs.copyFileSync(p, path.join(photoDir, path.basename(p)));
    const real = path.join(work, 'real');
    expect(run(['extract', '--model', model, '--data', path.dirname(photoDir), '--cache', real, '--quiet']).code).toBe(
      0,
    );
    const identity = readMeta(real)!;

    // 10,000 classes: one train row each (around a class centre) and 2,000 test rows.
    const cache = path.join(work, 'cache');
    const dim = identity.dim;
    const rng = new Prng(7);
    const centres = Float32Array.from({ length: K * dim }, () => 4 * (rng.next() - 0.5));
    const store = EmbeddingStore.open(cache, { mode: 'write', identity });
    const listing = new ListingWriter(store.dir);
    const rows = (split: 'train' | 'test', n: number): void => {
      const hashes: string[] = [];
      const X = new Float32Array(n * dim);
      for (let i = 0; i < n; i++) {
        const k = split === 'train' ? i : (i * 5) % K;
        const hash = sha256Hex(Buffer.from(`${split}-${i}`));
        hashes.push(hash);
        for (let j = 0; j < dim; j++) X[i * dim + j] = centres[k * dim + j]! + 0.01 * (rng.next() - 0.5);
        const rel = `${split}/class${k}/${i}.jpg`;
        listing.add({ relPath: rel, path: path.join(work, 'gone', rel), label: `class${k}`, split, hash });
      }
      store.putBatch(hashes, X);
    };
    rows('train', K);
    rows('test', 2000);
    listing.commit();
    store.close();

    const clf = path.join(work, 'clf.json');
    const fit = run([
      'fit-linear',
      '--cache',
      cache,
      '--out',
      clf,
      '--solver',
      'softmax',
      '--C',
      '100',
      '--max-iter',
      '4',
      '--json',
    ]);
    expect(fit.stderr).toBe('');
    expect(fit.code).toBe(0);
    expect((JSON.parse(fs.readFileSync(clf, 'utf8')) as { classes: string[] }).classes).toHaveLength(K);

    const text = run(['evaluate', '--classifier', clf, '--cache', cache]);
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/accuracy \d+\.\d\d % \(\d+\/2000\)/);
    expect(text.stdout).toMatch(/top \d+ confusions of 10000 classes|confusions: none/);

    const report = path.join(work, 'report');
    const json = run(['evaluate', '--classifier', clf, '--cache', cache, '--json', '--report', report]);
    expect(json.code).toBe(0);
    const out = JSON.parse(json.stdout) as { n: number; classes: string[]; confusionCells: number[][] };
    expect(out.n).toBe(2000);
    expect(out.classes).toHaveLength(K);
    expect(out.confusionCells.reduce((s, c) => s + c[2]!, 0)).toBe(2000);
    for (const f of ['index.html', 'confusion.png', 'report.json'])
      expect(fs.existsSync(path.join(report, f))).toBe(true);
    expect(fs.readFileSync(path.join(report, 'index.html'), 'utf8')).toContain('class9999');

    const preds = path.join(work, 'p.csv');
    const predict = run([
      'predict',
      '--classifier',
      clf,
      '--model',
      model,
      '--data',
      path.dirname(photoDir),
      '--out',
      preds,
      '--top-k',
      '5',
      '--quiet',
    ]);
    expect(predict.code).toBe(0);
    const records = parse(fs.readFileSync(preds, 'utf8')) as string[][];
    expect(records).toHaveLength(4);
    for (const r of records.slice(1)) {
      expect(r[2]).toMatch(/^class\d+$/);
      const scores = [r[3], r[5], r[7], r[9], r[11]].map(Number);
      expect([...scores].sort((a, b) => b - a)).toEqual(scores); // best first
    }

    const onnx = path.join(work, 'f.onnx');
    const exported = run(['export', '--classifier', clf, '--model', model, '--out', onnx, '--quiet']);
    expect(exported.code).toBe(0);
    const meta = Object.fromEntries(loadModel(onnx).metadataProps.map((p) => [p.key, p.value]));
    expect(JSON.parse(meta.classes!)).toHaveLength(K);
  });
});
