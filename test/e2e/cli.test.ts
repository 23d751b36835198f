/**
 * The CLI as users run it (compiled dist/cli.js, built by the jest global setup): exit codes, one-sentence errors,
 * JSON output, the whole extract → fit-linear → evaluate / predict / export path, and resuming an extraction killed
 * with SIGKILL or interrupted with SIGINT.
 *
 * Every test runs on its own (`-t NAME`): caches and classifiers that several tests share are built on first use by
 * the memoised helpers below, never left behind by an earlier test.
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { loadModel } from '../../src/backbone/graph/proto';
import { EmbeddingStore, loadSplit, readListing } from '../../src/cache';
import { loadClassifier } from '../../src/linear/io';
import { photos, REPO_ROOT, tmpDir } from '../support/data';
import { tinyBackboneBytes, writeTinyBackbone } from '../support/tinyBackbone';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a command that must succeed and returns its --json output; a failure shows the CLI's own sentence. */
function runJson(args: string[]): Record<string, unknown> {
  const r = run(args);
  if (r.code !== 0) throw new Error(`convfeat ${args[0]} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

const CLASSES = ['airplane', 'car', 'fruit'];
const PER_CLASS = 40;
const TOTAL = CLASSES.length * PER_CLASS;

const work = tmpDir('cli');
const model = writeTinyBackbone(work);
/** Class folders of real photos, no splits: 3 × 40 = 120 images. */
const data = path.join(work, 'data');
for (const cls of CLASSES) {
  fs.mkdirSync(path.join(data, cls), { recursive: true });
  for (const p of photos('train', cls, PER_CLASS)) fs.copyFileSync(p, path.join(data, cls, path.basename(p)));
}

/** The argument list of `convfeat extract`: the tiny backbone over the 120 photos into `cache`, then `extra`. */
function extractArgs(cache: string, ...extra: string[]): string[] {
  return ['extract', '--model', model, '--data', data, '--cache', cache, ...extra];
}

/** Like extractArgs, over another input folder than the 120 photos. */
function extractArgsFrom(input: string, cache: string, ...extra: string[]): string[] {
  return ['extract', '--model', model, '--data', input, '--cache', cache, ...extra];
}

function memo<T>(build: () => T): () => T {
  let value: { v: T } | undefined;
  return () => (value ??= { v: build() }).v;
}

/** The 120 photos extracted once, uninterrupted, with the first run's --json summary. */
const cleanCache = memo(() => {
  const cache = path.join(work, 'clean');
  const first = run(extractArgs(cache, '--json', '--device', 'auto'));
  return { cache, first };
});

/** A classifier fitted (C by cross-validation) on the clean tiny-backbone cache. */
const tinyClassifier = memo(() => {
  const { cache } = cleanCache();
  const file = path.join(work, 'clf-tiny.json');
  const summary = runJson(['fit-linear', '--cache', cache, '--out', file, '--json']);
  return { file, summary };
});

/** Real photos in train/ (3 classes × 10) and val/ (3 × 5) folders, extracted into their own cache. */
const splitCache = memo(() => {
  const input = path.join(work, 'split-data');
  for (const [split, n] of [
    ['train', 10],
    ['val', 5],
  ] as const) {
    for (const cls of CLASSES) {
      const dir = path.join(input, split, cls);
      fs.mkdirSync(dir, { recursive: true });
      for (const p of photos(split, cls, n)) fs.copyFileSync(p, path.join(dir, path.basename(p)));
    }
  }
  const cache = path.join(work, 'split-cache');
  const summary = runJson(extractArgsFrom(input, cache, '--json'));
  expect(summary).toMatchObject({ total: 45, extracted: 45, failed: 0 });
  return cache;
});

/**
 * A larger input for the kill tests, so that the kill lands mid-run however fast the tiny model is: every photo of
 * `data` COPIES times, each copy with a JPEG comment segment after SOI naming it. The comment makes the bytes (and
 * so the content hash) distinct, so the cache stores every copy instead of skipping duplicates, while the decoded
 * pixels, and so the embedding, stay those of the original photo.
 */
const COPIES = 5;
const BIG_TOTAL = TOTAL * COPIES;
const COPY_SUFFIX = /-copy\d+(?=\.jpe?g$)/i;

function withComment(jpeg: Buffer, text: string): Buffer {
  if (jpeg[0] !== 0xff || jpeg[1] !== 0xd8) throw new Error('expected a JPEG (SOI marker) to tag');
  const payload = Buffer.from(text, 'latin1');
  const segment = Buffer.alloc(4);
  segment.writeUInt16BE(0xfffe, 0); // COM
  segment.writeUInt16BE(payload.length + 2, 2); // the length counts its own two bytes
  return Buffer.concat([jpeg.subarray(0, 2), segment, payload, jpeg.subarray(2)]);
}

const bigData = memo(() => {
  const input = path.join(work, 'big-data');
  for (const cls of CLASSES) {
    fs.mkdirSync(path.join(input, cls), { recursive: true });
    for (const p of photos('train', cls, PER_CLASS)) {
      const bytes = fs.readFileSync(p);
      const ext = path.extname(p);
      const base = path.basename(p, ext);
      fs.copyFileSync(p, path.join(input, cls, path.basename(p)));
      for (let c = 1; c < COPIES; c++)
        fs.writeFileSync(path.join(input, cls, `${base}-copy${c}${ext}`), withComment(bytes, `convfeat copy ${c}`));
    }
  }
  return input;
});

function indexLines(cache: string): number {
  const index = path.join(cache, 'index.jsonl');
  // row lines only: each batch also appends one shard record (its row count and sha256)
  return fs.existsSync(index)
    ? fs
        .readFileSync(index, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{"h"')).length
    : 0;
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null)
      resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

/**
 * The accuracy evaluate must report, computed here: the classifier file's scores on the cache rows, argmax, compared
 * by class name with the cache's labels.
 */
function expectedAccuracy(classifierFile: string, cache: string, split?: string): { accuracy: number; n: number } {
  const clf = loadClassifier(classifierFile);
  const data = loadSplit(cache, split);
  const K = clf.classes.length;
  const scores = clf.decisionFunction(data.X, data.dim);
  let correct = 0;
  for (let i = 0; i < data.y.length; i++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (scores[i * K + k]! > scores[i * K + best]!) best = k;
    if (clf.classes[best] === data.classes[data.y[i]!]) correct++;
  }
  return { accuracy: correct / data.y.length, n: data.y.length };
}

/**
 * Resolves once the cache index holds at least n images, or the child has exited (then the caller's assertions say
 * so), or a minute has passed. Polls gently: the child needs the shared cores more than the test does.
 */
async function stored(child: ChildProcess, cache: string, n: number): Promise<number> {
  const deadline = Date.now() + 60000;
  let lines = indexLines(cache);
  while (lines < n && child.exitCode === null && child.signalCode === null && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    lines = indexLines(cache);
  }
  return lines;
}

describe('convfeat CLI', () => {
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  test('usage errors exit 2 with a sentence naming the parameter', () => {
    expect(run([]).code).toBe(2);
    const c0 = path.join(work, 'c0');
    const bad = run(extractArgs(c0, '--batch-size', '0'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Expected --batch-size to be an integer between 1 and 1024 but received 0');
    const missing = run(extractArgsFrom(path.join(work, 'nope'), c0));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope/);
    const unknownModel = run(['extract', '--model', 'resnet51', '--data', data, '--cache', c0]);
    expect(unknownModel.code).toBe(2);
    expect(unknownModel.stderr).toMatch(/resnet50/);
    const device = run(extractArgs(c0, '--device', 'gpu'));
    expect(device.code).toBe(2);
    expect(device.stderr).toContain('Expected --device to be one of auto, cpu, cuda, cuda:N but received "gpu"');
    // An invalid choice stops at the parser: the command itself must not run (one error, no second message).
    const solver = run(['fit-linear', '--cache', c0, '--out', path.join(work, 'x.json'), '--solver', 'foo']);
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
    const { cache, first } = cleanCache(); // the first run ever on this cache
    expect(first.code).toBe(0);
    const s = JSON.parse(first.stdout);
    expect(s).toMatchObject({ total: TOTAL, extracted: TOTAL, failed: 0, provider: 'cpu' });
    const again = runJson(extractArgs(cache, '--json'));
    expect(again).toMatchObject({ extracted: 0, fromCache: TOTAL });
    const out = path.join(work, 'export');
    const exported = run(['cache', 'export', '--cache', cache, '--out', out, '--json']);
    expect(exported.code).toBe(0);
    expect(fs.readFileSync(path.join(out, 'paths.txt'), 'utf8').trim().split('\n')).toHaveLength(TOTAL);
  });

  test('SIGKILL mid-run loses at most the batch in flight; the next run resumes without duplicates', async () => {
    const input = bigData();
    const clean = cleanCache().cache;
    const cache = path.join(work, 'c3');
    const child = spawn(
      process.execPath,
      [CLI, ...extractArgsFrom(input, cache, '--batch-size', '2', '--workers', '1', '--quiet')],
      { stdio: 'ignore' },
    );
    await stored(child, cache, 10);
    const stillRunning = child.exitCode === null && child.signalCode === null;
    child.kill('SIGKILL');
    const { signal } = await exited(child);
    expect(stillRunning).toBe(true); // the kill landed mid-run, not after the child finished
    expect(signal).toBe('SIGKILL');
    const storedBeforeKill = indexLines(cache);
    expect(storedBeforeKill).toBeGreaterThanOrEqual(10);
    expect(storedBeforeKill).toBeLessThan(BIG_TOTAL); // killed mid-run, not after

    const s = runJson(extractArgsFrom(input, cache, '--json'));
    expect(s.fromCache).toBeGreaterThanOrEqual(storedBeforeKill - 2);
    expect((s.fromCache as number) + (s.extracted as number)).toBe(BIG_TOTAL);

    const lines = fs
      .readFileSync(path.join(cache, 'index.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{"h"'));
    const hashes = lines.map((l) => JSON.parse(l).h as string);
    expect(new Set(hashes).size).toBe(hashes.length);
    expect(hashes).toHaveLength(BIG_TOTAL); // every copy is its own image

    // Every row equals the row a clean, uninterrupted run computed for the same pixels (a copy's original photo).
    const cleanHash = new Map(readListing(clean)!.map((e) => [e.relPath, e.hash]));
    const listing = readListing(cache)!;
    expect(listing).toHaveLength(BIG_TOTAL);
    const resumedHashes = listing.map((e) => e.hash);
    const originalHashes = listing.map((e) => {
      const h = cleanHash.get(e.relPath.replace(COPY_SUFFIX, ''));
      if (!h) throw new Error(`no clean row for ${e.relPath}`);
      return h;
    });
    const resumedStore = EmbeddingStore.open(cache, { mode: 'read' });
    const cleanStore = EmbeddingStore.open(clean, { mode: 'read' });
    expect(resumedStore.size).toBe(BIG_TOTAL);
    const a = resumedStore.gather(resumedHashes);
    const b = cleanStore.gather(originalHashes);
    expect(a.length).toBe(b.length);
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
    expect(maxDiff).toBeLessThan(1e-6);
    resumedStore.close();
    cleanStore.close();
  });

  test('fit-linear chooses C on the val split, and by cross-validation with --no-val', () => {
    const cache = splitCache();
    const withVal = runJson(['fit-linear', '--cache', cache, '--out', path.join(work, 'clf-val.json'), '--json']);
    expect(withVal).toMatchObject({ cSelection: 'val', trainSize: 30, valSize: 15 });
    const noVal = runJson([
      'fit-linear',
      '--cache',
      cache,
      '--out',
      path.join(work, 'clf-noval.json'),
      '--no-val',
      '--json',
    ]);
    expect(noVal).toMatchObject({ cSelection: 'cv', trainSize: 30, valSize: 0 });
  });

  test('fit-linear --out checks, and a failed predict never replaces an earlier output', () => {
    const { cache } = cleanCache();
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
      tinyClassifier().file,
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

  test('evaluate --json scores the cache and names the split', () => {
    const { cache } = cleanCache();
    const { file, summary } = tinyClassifier();
    expect(summary).toMatchObject({ cSelection: 'cv', classes: CLASSES, trainSize: TOTAL });
    const all = runJson(['evaluate', '--classifier', file, '--cache', cache, '--json']);
    expect(all.split).toBe('all'); // the cache has no splits: every image
    expect(all.n).toBe(TOTAL);
    const expectedAll = expectedAccuracy(file, cache);
    expect(all.accuracy).toBeCloseTo(expectedAll.accuracy, 10);
    // 88/120 = 73.3 % here; 3 classes: chance is 1/3, so a wrong figure shows.
    expect(expectedAll.accuracy).toBeGreaterThan(0.6);

    // A cache with splits but no test split: --split val scores the val images only.
    const splits = splitCache();
    const valClf = path.join(work, 'clf-eval-val.json');
    runJson(['fit-linear', '--cache', splits, '--out', valClf, '--json']);
    const val = runJson(['evaluate', '--classifier', valClf, '--cache', splits, '--split', 'val', '--json']);
    expect(val.split).toBe('val');
    expect(val.n).toBe(15);
    expect(val.accuracy).toBeCloseTo(expectedAccuracy(valClf, splits, 'val').accuracy, 10);
    // Without --split it is refused, rather than scoring the training images.
    const noTest = run(['evaluate', '--classifier', valClf, '--cache', splits]);
    expect(noTest.code).toBe(2);
    expect(noTest.stderr).toMatch(/has splits train, val but no test split; pass --split val/);
  });

  test('advise: a --plot that is not .png/.svg is refused up front; an unwritable one keeps the printed curve', () => {
    const { cache } = cleanCache();
    const base = ['advise', '--cache', cache, '--seeds', '1', '--fractions', '0.5', '1', '--C', '1'];
    const jpg = run([...base, '--plot', path.join(work, 'curve.jpg')]);
    expect(jpg.code).toBe(2);
    expect(jpg.stderr).toMatch(/Expected --plot to name a \.png or \.svg file/);
    expect(jpg.stdout).toBe('');
    const blocked = path.join(work, 'curve-blocked.png');
    fs.mkdirSync(blocked, { recursive: true }); // a folder where the plot should go
    const r = run([...base, '--plot', blocked]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/fraction +images/); // the curve was printed before the plot failed
    expect(r.stderr).toMatch(/Cannot write the learning-curve plot to .*curve-blocked\.png/);
  });

  test('predict --out writes a header and one row per image, each labelled with one of the classes', () => {
    const { file } = tinyClassifier();
    const out = path.join(work, 'p.csv');
    const r = run(['predict', '--classifier', file, '--model', model, '--data', data, '--out', out, '--quiet']);
    expect(r.code).toBe(0);
    const rows = fs.readFileSync(out, 'utf8').split('\n');
    expect(rows.pop()).toBe(''); // ends with a newline
    expect(rows[0]).toBe('path,label,pred1,score1,format_version');
    const body = rows.slice(1).map((l) => l.split(','));
    expect(body).toHaveLength(TOTAL);
    const expectedPaths = CLASSES.flatMap((cls) =>
      fs.readdirSync(path.join(data, cls)).map((f) => path.join(data, cls, f)),
    );
    expect(body.map((cells) => cells[0]).sort()).toEqual(expectedPaths.sort());
    for (const [p, label, pred, score] of body) {
      expect(label).toBe(path.basename(path.dirname(p!)));
      expect(CLASSES).toContain(pred);
      expect(Number(score)).toBeGreaterThanOrEqual(1 / CLASSES.length - 1e-6); // the top score of 3 probabilities
      expect(Number(score)).toBeLessThanOrEqual(1);
    }
  });

  test('export --out writes an ONNX model whose metadata lists the classifier’s classes', () => {
    const { file } = tinyClassifier();
    const clf = JSON.parse(fs.readFileSync(file, 'utf8')) as { classes: string[]; backbone: { fingerprint: string } };
    const out = path.join(work, 'f.onnx');
    const r = run(['export', '--classifier', file, '--model', model, '--out', out, '--quiet']);
    expect(r.code).toBe(0);
    const saved = loadModel(out);
    const meta = Object.fromEntries(saved.metadataProps.map((p) => [p.key, p.value]));
    expect(JSON.parse(meta.classes!)).toEqual(CLASSES);
    expect(clf.classes).toEqual(CLASSES);
    expect(meta.backbone_fingerprint).toBe(clf.backbone.fingerprint);
    expect(saved.graph!.output!.map((o) => o.name)).toContain('probabilities');
  });

  test('predict with another backbone than the classifier’s fails with exit 1 and says so', () => {
    const { file } = tinyClassifier();
    const other = path.join(work, 'other.onnx');
    fs.writeFileSync(other, tinyBackboneBytes(11)); // same graph, other weights
    const out = path.join(work, 'other.csv');
    const r = run(['predict', '--classifier', file, '--model', other, '--data', data, '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^convfeat: --model .*other\.onnx .* is not the backbone the classifier was trained on /m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(fs.existsSync(out)).toBe(false);
  });

  test('Ctrl-C (SIGINT) during extract releases the lock and keeps the stored batches', async () => {
    const input = bigData();
    const cache = path.join(work, 'c4');
    const child = spawn(process.execPath, [CLI, ...extractArgsFrom(input, cache, '--batch-size', '2', '--quiet')], {
      stdio: 'ignore',
    });
    await stored(child, cache, 6);
    const stillRunning = child.exitCode === null && child.signalCode === null;
    child.kill('SIGINT');
    const { code } = await exited(child);
    expect(stillRunning).toBe(true); // interrupted mid-run, not after the child finished
    expect(code).toBe(130);
    expect(fs.existsSync(path.join(cache, 'lock'))).toBe(false);
    const storedBeforeInterrupt = indexLines(cache);
    expect(storedBeforeInterrupt).toBeGreaterThanOrEqual(6);
    expect(storedBeforeInterrupt).toBeLessThan(BIG_TOTAL);
    const resumed = runJson(extractArgsFrom(input, cache, '--json'));
    expect(resumed.fromCache).toBeGreaterThanOrEqual(6);
    expect(resumed.fromCache).toBe(storedBeforeInterrupt);
    expect((resumed.fromCache as number) + (resumed.extracted as number)).toBe(BIG_TOTAL);
  });
});
