/**
 * labelledSplits: the data discovery the demo (and any fit-on-a-folder caller) needs, on tiny folders of real JPEGs:
 * splits given are kept, a wrapper folder is stepped into, a class-only folder is split per class into a manifest
 * that a rerun reproduces byte for byte, and unlabelled, half-split and mixed data are refused in one sentence that
 * names the caller's purpose and the `data` parameter (or --data from the CLI).
 */
import * as fs from 'fs';
import * as path from 'path';
import { descendSingleFolder, labelledSplits } from '../../src/dataset';
import { flagFor } from '../../src/commands/flags';
import { ConvfeatError, UsageError } from '../../src/util/errors';
import { useParamNames } from '../../src/util/params';
import { photos, tmpDir } from '../support/data';

afterEach(() => useParamNames());

const CLASSES = ['cat', 'dog', 'car'];

/** root/<rel>/<class>/<n>.jpg with real photos of that class. */
function imageFolder(root: string, rel: string, perClass: number, classes = CLASSES): string {
  for (const cls of classes)
    for (const [i, src] of photos('train', cls, perClass).entries()) {
      const dst = path.join(root, rel, cls, `${cls}_${i}.jpg`);
      fs.mkdirSync(path.dirname(dst), { recursive: true });
      fs.copyFileSync(src, dst);
    }
  return path.join(root, rel);
}

async function refusal(p: Promise<unknown>): Promise<Error> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ConvfeatError);
  return e as Error;
}

describe('labelledSplits', () => {
  test('train/val/test folders are used as given: no manifest written', async () => {
    const root = tmpDir('ls-given');
    for (const split of ['train', 'val', 'test']) imageFolder(root, split, 1, ['cat', 'dog']);
    const out = tmpDir('ls-given-out');
    const r = await labelledSplits(root, { manifestDir: out });
    expect(r.splitManifest).toBeNull();
    expect(r.input).toBe(root);
    expect(r.dataset.items).toHaveLength(6);
    expect(new Set(r.dataset.items.map((i) => i.split))).toEqual(new Set(['train', 'val', 'test']));
    expect(fs.readdirSync(out)).toEqual([]);
  });

  test('a class-only folder inside a wrapper folder: stepped into, split per class, the same manifest on a rerun', async () => {
    const root = tmpDir('ls-wrap');
    const inner = imageFolder(root, path.join('natural-images', 'natural_images'), 5);
    const out = tmpDir('ls-wrap-out');
    const lines: string[] = [];
    const r = await labelledSplits(root, { seed: 7, manifestDir: out, log: (l) => lines.push(l) });
    expect(r.input).toBe(inner);
    expect(lines[0]).toBe(`using ${inner} (the folder inside ${root})`);
    expect(r.splitManifest).toBe(path.join(out, 'split-seed7.jsonl'));
    expect(lines[1]).toMatch(/split its 15 images, per class, seed 7, 28\/19\/rest %.*train 3, val 3, test 9 ->/);
    expect(r.dataset.items).toHaveLength(15);
    // Every class is in every split (stratified), and every path points at a real photo of the input.
    for (const split of ['train', 'val', 'test'])
      expect(new Set(r.dataset.items.filter((i) => i.split === split).map((i) => i.label))).toEqual(new Set(CLASSES));
    for (const item of r.dataset.items) expect(item.path.startsWith(inner)).toBe(true);
    const first = fs.readFileSync(r.splitManifest!, 'utf8');
    await labelledSplits(root, { seed: 7, manifestDir: out });
    expect(fs.readFileSync(r.splitManifest!, 'utf8')).toBe(first);
    // Another seed is another (reproducible) split, in its own manifest.
    const other = await labelledSplits(root, { seed: 8, manifestDir: out });
    expect(other.splitManifest).toBe(path.join(out, 'split-seed8.jsonl'));
    expect(fs.readFileSync(other.splitManifest!, 'utf8')).not.toBe(first);
  });

  test('descendSingleFolder stops above a folder of images (one class folder is a dataset, not a wrapper)', () => {
    const root = tmpDir('ls-one');
    imageFolder(root, path.join('wrap', 'data'), 1, ['cat']);
    expect(descendSingleFolder(root)).toBe(path.join(root, 'wrap', 'data'));
    expect(descendSingleFolder(path.join(root, 'missing'))).toBe(path.join(root, 'missing'));
  });

  test('refusals: unlabelled images, train without test, some rows split and others not; wording follows the caller', async () => {
    const out = tmpDir('ls-bad-out');
    const flat = tmpDir('ls-flat');
    for (const [i, src] of photos('train', 'cat', 2).entries()) fs.copyFileSync(src, path.join(flat, `${i}.jpg`));
    fs.mkdirSync(path.join(flat, 'empty'));
    fs.mkdirSync(path.join(flat, 'empty2'));
    expect((await refusal(labelledSplits(flat, { manifestDir: out }))).message).toBe(
      `${flat} has no class folders; labelledSplits needs labelled images: one folder per class (<class>/*.jpg), or train/val/test/<class>/, or a manifest with a label column.`,
    );
    expect((await refusal(labelledSplits(flat, { manifestDir: out, purpose: 'the demo' }))).message).toMatch(
      /; the demo needs labelled images/,
    );

    const half = tmpDir('ls-half');
    imageFolder(half, 'train', 1, ['cat', 'dog']);
    imageFolder(half, 'val', 1, ['cat', 'dog']);
    const halfMessage = (await refusal(labelledSplits(half, { manifestDir: out }))).message;
    expect(halfMessage).toBe(
      `${half} has only train and val, but labelledSplits needs at least train and test; add the missing split, or point data at a folder of class folders to have it split here.`,
    );
    useParamNames(flagFor);
    expect((await refusal(labelledSplits(half, { manifestDir: out, purpose: 'the demo' }))).message).toBe(
      `${half} has only train and val, but the demo needs at least train and test; add the missing split, or point --data at a folder of class folders to have it split here.`,
    );
    useParamNames();

    const mixed = tmpDir('ls-mixed');
    const [a, b] = photos('train', 'cat', 2);
    fs.copyFileSync(a!, path.join(mixed, 'a.jpg'));
    fs.copyFileSync(b!, path.join(mixed, 'b.jpg'));
    const manifest = path.join(mixed, 'list.csv');
    fs.writeFileSync(manifest, 'path,label,split\na.jpg,cat,train\nb.jpg,cat,\n');
    expect((await refusal(labelledSplits(manifest, { manifestDir: out }))).message).toBe(
      `Some images of ${manifest} have a split and others do not; give every row a split, or none to have labelledSplits split them.`,
    );
    expect(fs.readdirSync(out)).toEqual([]);
  });

  test('a missing path and a bad seed name the parameter', async () => {
    const missing = path.join(tmpDir('ls-missing'), 'nope');
    await expect(labelledSplits(missing, { manifestDir: missing })).rejects.toThrow(`data ${missing} does not exist`);
    const e = await labelledSplits(missing, { manifestDir: missing, seed: -1 }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).toMatch(/^Expected seed to be/);
  });
});
