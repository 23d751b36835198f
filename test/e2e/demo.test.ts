/**
 * The demo for someone who cloned the repository alone: without the data it says what the dataset is, where it is
 * published and the exact command (exit 1, no stack); a folder of class folders (the full Natural Images layout, or
 * any ImageFolder) is split deterministically and stratified; the demo runs end to end on a tiny folder of real
 * photos, on both layouts.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { scanDataset } from '../../src/dataset';
import { stratifiedSplit, writeSplitManifest } from '../../src/dataset/split';
import { photos, REPO_ROOT, tmpDir } from '../support/data';
import { writeTinyBackbone } from '../support/tinyBackbone';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const CLASSES = ['airplane', 'car', 'fruit', 'person'];
const PER_CLASS = 12;

function run(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 240000, env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const work = tmpDir('demo');
const model = writeTinyBackbone(work);
/** The full Natural Images layout, in small: <class>/ folders of real photos, no splits. */
const classOnly = path.join(work, 'natural_images');
for (const cls of CLASSES) {
  fs.mkdirSync(path.join(classOnly, cls), { recursive: true });
  for (const p of photos('train', cls, PER_CLASS)) fs.copyFileSync(p, path.join(classOnly, cls, path.basename(p)));
}

test('without its data the demo says what Mini Natural Images is, where it is published and what to run', () => {
  const env = { ...process.env, CONVFEAT_DATA: path.join(work, 'not-downloaded') };
  const r = run(['demo', '--out', path.join(work, 'out-missing')], env);
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1); // one message, no stack
  expect(r.stderr).not.toMatch(/\n\s+at |unexpected error|this is a bug/);
  expect(r.stderr).toContain(`The demo data is not at ${path.join(work, 'not-downloaded')}.`);
  expect(r.stderr).toContain('Mini Natural Images');
  expect(r.stderr).toContain('Natural Images dataset (6,899 photos in the same 8 classes');
  expect(r.stderr).toContain('https://www.kaggle.com/datasets/prasunroy/natural-images');
  expect(r.stderr).toContain('npm run demo -- --data PATH/natural_images');
  expect(fs.existsSync(path.join(work, 'out-missing'))).toBe(false); // nothing fetched or written first
  // A --data that does not exist gets the same guidance, naming the option.
  const r2 = run(['demo', '--data', path.join(work, 'typo'), '--out', path.join(work, 'out-missing')]);
  expect(r2.code).toBe(1);
  expect(r2.stderr).toMatch(/^convfeat: --data .*typo does not exist\. The demo uses Mini Natural Images/);
});

test('a class-only folder is split deterministically, stratified, every class in every split, no image twice', async () => {
  const dataset = await scanDataset(classOnly);
  expect(dataset.kind).toBe('imagefolder');
  const a = stratifiedSplit(dataset, { seed: 0 });
  // Scan order must not matter: the same files in reverse give the same split.
  const b = stratifiedSplit({ ...dataset, items: [...dataset.items].reverse() }, { seed: 0 });
  const fa = writeSplitManifest(path.join(work, 'm1', 'split.jsonl'), a);
  const fb = writeSplitManifest(path.join(work, 'm2', 'split.jsonl'), b);
  expect(fs.readFileSync(fa, 'utf8')).toBe(fs.readFileSync(fb, 'utf8'));
  expect(a).toHaveLength(CLASSES.length * PER_CLASS);
  expect(new Set(a.map((i) => i.path)).size).toBe(a.length); // no image in two splits
  for (const cls of CLASSES) {
    const of = (split: string): number => a.filter((i) => i.label === cls && i.split === split).length;
    // 12 images at 28/19/53 %: 3 train, 2 val, 7 test, like Mini Natural Images' proportions
    expect([of('train'), of('val'), of('test')]).toEqual([3, 2, 7]);
  }
  // Another seed gives another (still stratified) split.
  const c = stratifiedSplit(dataset, { seed: 1 });
  expect(c.map((i) => i.split)).not.toEqual(a.map((i) => i.split));
  // The manifest is one every command reads back, with the same splits.
  const back = await scanDataset(fa);
  expect(back.items.map((i) => [path.basename(i.path), i.label, i.split])).toEqual(
    a.map((i) => [path.basename(i.path), i.label, i.split]),
  );
  // A class too small for three splits is refused with a sentence.
  const small = { ...dataset, items: dataset.items.filter((i) => i.label !== 'car' || i.relPath.endsWith('0000.jpg')) };
  expect(() => stratifiedSplit(small)).toThrow(/at least 3 images .* car \(1\)/);
});

test('the demo runs end to end on a tiny class-only folder, and on train/val/test folders', () => {
  const out = path.join(work, 'out');
  // The archive layout people unpack: natural-images/natural_images/<class>/ (the demo steps into the inner folder).
  const wrapper = path.join(work, 'natural-images');
  fs.mkdirSync(wrapper);
  fs.symlinkSync(classOnly, path.join(wrapper, 'natural_images'));
  const r = run(['demo', '--data', wrapper, '--out', out, '--model', model, '--json']);
  expect(r.stderr).not.toMatch(/unexpected error|this is a bug/);
  expect(r.code).toBe(0);
  const summary = JSON.parse(r.stdout) as {
    splitManifest: string;
    extraction: { extracted: number; failed: number };
    results: { solver: string; report: string; classifier: string; test: { n: number; accuracy: number } }[];
    advice: { points: unknown[] } | null;
  };
  expect(summary.splitManifest).toBe(path.resolve(out, 'split-seed0.jsonl'));
  expect(fs.readFileSync(summary.splitManifest, 'utf8').trim().split('\n')).toHaveLength(CLASSES.length * PER_CLASS);
  expect(summary.extraction).toMatchObject({ extracted: CLASSES.length * PER_CLASS, failed: 0 });
  expect(summary.results.map((x) => x.solver)).toEqual(['svm', 'softmax']);
  for (const res of summary.results) {
    expect(res.test.n).toBe(CLASSES.length * 7); // the test split only
    expect(res.test.accuracy).toBeGreaterThan(1 / CLASSES.length); // real photos: better than chance even at 8-d
    expect(fs.readFileSync(res.report, 'utf8')).toContain('<html');
    expect(fs.existsSync(res.classifier)).toBe(true);
  }
  expect(summary.advice?.points.length).toBeGreaterThan(0);
  expect(r.stderr).toContain('has no train/val/test folders: split its 48 images');

  // A second run reuses the cache and writes the same manifest.
  const manifest = fs.readFileSync(summary.splitManifest, 'utf8');
  const again = run(['demo', '--data', wrapper, '--out', out, '--model', model, '--json', '--no-advise']);
  expect(again.code).toBe(0);
  expect(JSON.parse(again.stdout).extraction).toMatchObject({ extracted: 0, fromCache: CLASSES.length * PER_CLASS });
  expect(fs.readFileSync(summary.splitManifest, 'utf8')).toBe(manifest);

  // The mini layout (train/val/test/<class>/) is used as it is: no manifest, the given test split scored.
  const mini = path.join(work, 'mini');
  for (const [split, n] of [
    ['train', 6],
    ['val', 3],
    ['test', 4],
  ] as const) {
    for (const cls of CLASSES) {
      fs.mkdirSync(path.join(mini, split, cls), { recursive: true });
      for (const p of photos(split, cls, n)) fs.copyFileSync(p, path.join(mini, split, cls, path.basename(p)));
    }
  }
  const m = run([
    'demo',
    '--data',
    mini,
    '--out',
    path.join(work, 'out-mini'),
    '--model',
    model,
    '--json',
    '--no-advise',
  ]);
  expect(m.code).toBe(0);
  const ms = JSON.parse(m.stdout) as { splitManifest: null; results: { test: { n: number } }[] };
  expect(ms.splitManifest).toBeNull();
  expect(ms.results[0]!.test.n).toBe(CLASSES.length * 4);
});
