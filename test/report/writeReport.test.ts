/**
 * The report folder: pictures with sane sizes, one self-contained page with the pictures and thumbnails inlined,
 * atomic replacement of an earlier report, refusals with a sentence. A headless Chromium renders the page and checks
 * every image loaded (skipped, with a message, where Debian's chromium is not installed; a failure in CI).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { LinearClassifier } from '../../src/linear';
import { toEmbeddings } from '../../src/util/embeddings';
import type { EvaluationResult } from '../../src/report/evaluate';
import { classificationMetrics } from '../../src/report/metrics';
import { writeReport } from '../../src/report/writeReport';
import { ConvfeatError } from '../../src/util/errors';
import { photos, tmpDir } from '../support/data';
import { seededRandom } from '../support/graphs';
import { testWithPeer } from '../support/peers';

const CLASSES = ['airplane', 'car', 'cat', 'dog', 'flower', 'fruit', 'motorbike', 'person'];
const DIM = 16;
const CHROMIUM = '/usr/bin/chromium';

/** Gaussian-ish blobs per class; cat and dog share most of their centre, so some of them get confused. */
function blobs(n: number, seed: number): { X: Float32Array; y: Int32Array } {
  const centres = seededRandom(99);
  const c = Float32Array.from({ length: CLASSES.length * DIM }, () => centres() * 4 - 2);
  for (let j = 0; j < DIM; j++) c[3 * DIM + j] = c[2 * DIM + j] + (j === 0 ? 0.8 : 0);
  const rand = seededRandom(seed);
  const X = new Float32Array(n * DIM);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % CLASSES.length;
    for (let j = 0; j < DIM; j++) X[i * DIM + j] = c[y[i] * DIM + j] + (rand() + rand() + rand() - 1.5) * 0.9;
  }
  return { X, y };
}

async function fixture(
  solver: 'svm' | 'softmax',
  C: number | 'auto',
): Promise<{ clf: LinearClassifier; evaluation: EvaluationResult }> {
  const train = blobs(160, 1);
  const val = blobs(80, 2);
  const clf = await new LinearClassifier({ solver, C, scale: 'l2', threads: 1 }).fit(
    toEmbeddings(train.X, DIM),
    train.y,
    {
      classes: CLASSES,
      val: { X: toEmbeddings(val.X, DIM), y: val.y },
      backbone: { fingerprint: 'c0ffee'.repeat(10) + 'abcd', model: 'resnet50' },
    },
  );
  // The "test split": 6 real photos per class, so thumbnails come from real JPEGs.
  const paths = CLASSES.flatMap((cls) => photos('test', cls, 6));
  const test = blobs(paths.length, 3);
  const order = CLASSES.flatMap((_, k) => Array.from({ length: 6 }, (_, r) => r * CLASSES.length + k));
  const X = new Float32Array(paths.length * DIM);
  order.forEach((row, i) => X.set(test.X.subarray(row * DIM, (row + 1) * DIM), i * DIM));
  const yTrue = Int32Array.from(order, (row) => test.y[row]);
  const probabilities = clf.predictProba(X, DIM);
  const yPred = clf.predict(X, DIM);
  const metrics = classificationMetrics(yTrue, yPred, CLASSES, { scores: probabilities, topK: [1, 5] });
  return { clf, evaluation: { split: 'test', metrics, paths, yTrue, yPred, probabilities } };
}

async function pngSize(file: string): Promise<{ width: number; height: number }> {
  const meta = await sharp(file).metadata();
  expect(meta.format).toBe('png');
  return { width: meta.width!, height: meta.height! };
}

describe('writeReport', () => {
  let softmax: { clf: LinearClassifier; evaluation: EvaluationResult };
  let reportDir: string;

  beforeAll(async () => {
    softmax = await fixture('softmax', 'auto');
    reportDir = path.join(tmpDir('report'), 'report');
    await writeReport(reportDir, {
      evaluation: softmax.evaluation,
      classifier: softmax.clf,
      cacheMeta: { model: 'resnet50', dim: DIM },
    });
  });

  test('writes the pictures, the page and report.json, and no temporary folder is left', async () => {
    expect(fs.readdirSync(reportDir).sort()).toEqual([
      'confusion.png',
      'confusion.svg',
      'curves.png',
      'index.html',
      'predictions.csv',
      'reliability.png',
      'reliability.svg',
      'report.json',
    ]);
    expect(fs.readdirSync(path.dirname(reportDir))).toEqual(['report']);
    const cm = await pngSize(path.join(reportDir, 'confusion.png'));
    expect(cm.width).toBeGreaterThan(600);
    expect(cm.width).toBeLessThan(3000);
    expect(cm.height).toBeGreaterThan(600);
    const curves = await pngSize(path.join(reportDir, 'curves.png'));
    // Loss and accuracy side by side, the C search below them.
    expect(curves.width).toBeGreaterThan(1200);
    expect(curves.height).toBeGreaterThan(1000);
    const svg = fs.readFileSync(path.join(reportDir, 'confusion.svg'), 'utf8');
    for (const c of CLASSES) expect(svg).toContain(`>${c}<`);
    const json = JSON.parse(fs.readFileSync(path.join(reportDir, 'report.json'), 'utf8'));
    expect(json.format).toBe('convfeat-report');
    expect(json.metrics.accuracy).toBe(softmax.evaluation.metrics.accuracy);
  });

  test('the page is self-contained: both charts and the thumbnails are data URIs; summary, classes and pairs are there', () => {
    const html = fs.readFileSync(path.join(reportDir, 'index.html'), 'utf8');
    // Confusion matrix, curves, reliability diagram.
    expect(html.match(/src="data:image\/png;base64,[A-Za-z0-9+/=]{1000,}"/g)).toHaveLength(3);
    expect(html).not.toMatch(/src="(?!data:)/); // nothing points at a file or the network
    const m = softmax.evaluation.metrics;
    const errors = m.n - Math.round(m.accuracy * m.n);
    expect(errors).toBeGreaterThan(0); // the fixture confuses cats and dogs
    // Thumbnails of the errors, then of the 8 correct but least confident images.
    expect((html.match(/src="data:image\/jpeg;base64,/g) ?? []).length).toBe(Math.min(errors, 6 * 8) + 8);
    for (const c of CLASSES) expect(html).toContain(`<td>${c}</td>`);
    expect(html).toContain(`${(100 * m.accuracy).toFixed(2)} %`);
    expect(html).toContain('top-5 accuracy');
    expect(html).toContain('resnet50 (fingerprint c0ffeec0ffeec0ff)');
    expect(html).toMatch(/Most confused pairs[\s\S]*(cat → predicted dog|dog → predicted cat)/);
  });

  test('a classifier without curves gets no curves.png and a note in the page saying why', async () => {
    const svm = await fixture('svm', 0.5);
    const dir = path.join(tmpDir('report-svm'), 'r');
    const res = await writeReport(dir, { evaluation: svm.evaluation, classifier: svm.clf, thumbnails: false });
    expect(res.files.map((f) => path.basename(f)).sort()).toEqual([
      'confusion.png',
      'confusion.svg',
      'index.html',
      'predictions.csv',
      'reliability.png',
      'reliability.svg',
      'report.json',
    ]);
    expect(res.curvesNote).toMatch(/fixed C.*--C auto/);
    const html = fs.readFileSync(path.join(dir, 'index.html'), 'utf8');
    expect(html).toContain('trained with a fixed C, so there is no C search to plot');
    expect(html).not.toContain('data:image/jpeg');
  });

  test('replaces an earlier report in place, but refuses a folder that is not a report and leaves it untouched', async () => {
    const svm = await fixture('svm', 'auto');
    await writeReport(reportDir, { evaluation: svm.evaluation, classifier: svm.clf, thumbnails: false });
    expect(fs.readFileSync(path.join(reportDir, 'index.html'), 'utf8')).toContain('+ svm');
    expect(fs.readdirSync(path.dirname(reportDir))).toEqual(['report']);

    const other = tmpDir('report-other');
    fs.writeFileSync(path.join(other, 'thesis.tex'), 'precious');
    await expect(writeReport(other, { evaluation: svm.evaluation, classifier: svm.clf })).rejects.toThrow(
      /already holds other files and is not a convfeat report/,
    );
    expect(fs.readdirSync(other)).toEqual(['thesis.tex']);
  });

  test('an unwritable place is one sentence, and nothing is left behind', async () => {
    const base = tmpDir('report-bad');
    fs.writeFileSync(path.join(base, 'file'), 'x');
    const err = await writeReport(path.join(base, 'file', 'report'), {
      evaluation: softmax.evaluation,
      classifier: softmax.clf,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConvfeatError);
    expect((err as Error).message).toMatch(
      /^Cannot write the report to .*\(ENOTDIR\); choose a directory you can write to/,
    );
    expect(fs.readdirSync(base)).toEqual(['file']);
    await expect(writeReport('', { evaluation: softmax.evaluation, classifier: softmax.clf })).rejects.toThrow(
      /Expected report directory/,
    );
  });

  const chromiumTest = testWithPeer(
    'chromium',
    fs.existsSync(CHROMIUM),
    `${CHROMIUM}; Debian: apt-get install chromium`,
  );

  chromiumTest('headless Chromium renders the page with every image loaded', () => {
    const work = tmpDir('report-chromium');
    // A copy of the page with a probe that records, once loaded, whether each image decoded.
    const probe = `<script>window.addEventListener('load',()=>{const imgs=[...document.images];const r=document.createElement('pre');r.id='probe';r.textContent=JSON.stringify({count:imgs.length,broken:imgs.filter(i=>!(i.complete&&i.naturalWidth>0)).map(i=>i.alt),width:document.body.scrollWidth});document.body.appendChild(r);});</script>`;
    const fresh = path.join(tmpDir('report-page'), 'report');
    return writeReport(fresh, { evaluation: softmax.evaluation, classifier: softmax.clf }).then(() => {
      const page = fs.readFileSync(path.join(fresh, 'index.html'), 'utf8').replace('</body>', `${probe}</body>`);
      const file = path.join(work, 'probe.html');
      fs.writeFileSync(file, page);
      const flags = [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        `--user-data-dir=${path.join(work, 'profile')}`,
      ];
      const dom = execFileSync(CHROMIUM, [...flags, '--virtual-time-budget=5000', '--dump-dom', `file://${file}`], {
        encoding: 'utf8',
        timeout: 120000,
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      const m = dom.match(/<pre id="probe">([^<]*)<\/pre>/);
      expect(m).not.toBeNull();
      const result = JSON.parse(m![1].replace(/&quot;/g, '"').replace(/&amp;/g, '&')) as {
        count: number;
        broken: string[];
      };
      expect(result.broken).toEqual([]);
      expect(result.count).toBeGreaterThanOrEqual(4); // three charts and at least one thumbnail
      execFileSync(
        CHROMIUM,
        [
          ...flags,
          `--screenshot=${path.join(work, 'shot.png')}`,
          '--window-size=1200,2000',
          `file://${path.join(fresh, 'index.html')}`,
        ],
        { timeout: 120000, stdio: 'ignore' },
      );
      expect(fs.statSync(path.join(work, 'shot.png')).size).toBeGreaterThan(10000);
    });
  });
});

describe('predictions.csv, least confident and calibration in the report', () => {
  test('predictions.csv has one row per image with every class probability; the page lists the least confident correct ones', async () => {
    const { clf, evaluation } = await fixture('softmax', 'auto');
    const dir = path.join(tmpDir('report-csv'), 'r');
    await writeReport(dir, { evaluation, classifier: clf, thumbnails: false, leastConfident: 3 });
    const lines = fs.readFileSync(path.join(dir, 'predictions.csv'), 'utf8').trimEnd().split('\n');
    expect(lines[0]).toBe(`path,true,predicted,correct,${CLASSES.map((c) => `p_${c}`).join(',')}`);
    expect(lines).toHaveLength(evaluation.yTrue.length + 1);
    const K = CLASSES.length;
    lines.slice(1).forEach((line, i) => {
      const cells = line.split(',');
      expect(cells[0]).toBe(evaluation.paths[i]);
      expect(cells[1]).toBe(CLASSES[evaluation.yTrue[i]]);
      expect(cells[2]).toBe(CLASSES[evaluation.yPred[i]]);
      expect(cells[3]).toBe(evaluation.yTrue[i] === evaluation.yPred[i] ? '1' : '0');
      const probs = cells.slice(4).map(Number);
      expect(probs).toHaveLength(K);
      expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
      probs.forEach((p, k) => expect(p).toBeCloseTo(evaluation.probabilities[i * K + k], 5));
    });
    // The three correct rows with the lowest p(true), in that order, are the ones the page lists.
    const correct = evaluation.paths
      .map((p, i) => ({ p, i, pt: evaluation.probabilities[i * K + evaluation.yTrue[i]] }))
      .filter(({ i }) => evaluation.yTrue[i] === evaluation.yPred[i])
      .sort((a, b) => a.pt - b.pt)
      .slice(0, 3);
    const html = fs.readFileSync(path.join(dir, 'index.html'), 'utf8');
    const section = html.slice(
      html.indexOf('<h2>Correct but least confident</h2>'),
      html.indexOf('<h2>Calibration</h2>'),
    );
    const listed = [...section.matchAll(/<tr><td>([^<]+)<\/td>/g)].map((m) => m[1]);
    expect(listed).toEqual(correct.map((c) => c.p));
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8'));
    expect(json.calibration.bins).toBe(15);
    expect(json.calibration.ece).toBeGreaterThanOrEqual(0);
    expect(html).toMatch(/Expected calibration error <b>\d+\.\d\d %<\/b> over 15 equal-width bins/);
  });
});
