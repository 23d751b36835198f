import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { scanDataset } from '../../src/dataset';
import { UsageError } from '../../src/util/errors';
import { photos, REPO_ROOT, tmpDir } from '../support/data';
import { flagFor } from '../../src/commands/flags';
import { useParamNames } from '../../src/util/params';

afterEach(() => useParamNames());

const JPEG = fs.readFileSync(photos('train', 'cat', 1)[0]!);

/** Creates files (real JPEG bytes for image names, text otherwise) under root. */
/**
 * Root reads any folder whatever its mode, so as root the scan runs in a child process with the uid of `nobody`
 * (65534), on the compiled dist/ that the jest global setup builds from the current sources.
 */
function scanAsNobody(root: string): { items: Array<{ relPath: string }>; problems: Array<{ reason: string }> } {
  fs.chmodSync(root, 0o755); // mkdtemp makes it 0700: nobody must be able to enter it
  const dist = path.join(REPO_ROOT, 'dist', 'dataset', 'index.js');
  const script = `require(${JSON.stringify(dist)}).scanDataset(process.argv[1]).then(
    (d) => process.stdout.write(JSON.stringify({ items: d.items, problems: d.problems })),
    (e) => { process.stderr.write(String(e && e.stack)); process.exit(1); })`;
  const r = spawnSync(process.execPath, ['-e', script, root], { uid: 65534, gid: 65534, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`scanning ${root} as nobody failed (${r.status ?? r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function tree(root: string, files: string[]): void {
  for (const rel of files) {
    const full = path.join(root, rel);
    fs.mkdirSync(path.dirname(full), { recursive: true });
    fs.writeFileSync(full, /\.(jpe?g|png)$/i.test(rel) ? JPEG : 'not an image');
  }
}

async function usageError(p: Promise<unknown>): Promise<UsageError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(UsageError);
  expect((e as UsageError).exitCode).toBe(2);
  return e as UsageError;
}

describe('scanDataset: folders', () => {
  test('ImageFolder: classes sorted, items sorted with POSIX relPaths, hidden files skipped, non-images kept for extract to report', async () => {
    const root = tmpDir('imagefolder');
    tree(root, [
      'dog/b.jpg',
      'cat/z.jpg',
      'cat/a.JPG',
      'cat/notes.txt',
      'cat/.DS_Store',
      '.hidden/x.jpg',
      'README.md',
      'dog/nested/c.png',
    ]);
    const ds = await scanDataset(root);
    expect(ds.kind).toBe('imagefolder');
    expect(ds.root).toBe(root);
    expect(ds.classes).toEqual(['cat', 'dog']);
    expect(ds.items.map((i) => [i.relPath, i.label])).toEqual([
      ['cat/a.JPG', 'cat'],
      ['cat/notes.txt', 'cat'],
      ['cat/z.jpg', 'cat'],
      ['dog/b.jpg', 'dog'],
      ['dog/nested/c.png', 'dog'],
    ]);
    for (const it of ds.items) {
      expect(path.isAbsolute(it.path)).toBe(true);
      expect(it.path).toBe(path.join(root, ...it.relPath.split('/')));
      expect(it.split).toBeUndefined();
    }
    expect(ds.problems).toEqual([]);
  });

  test('split folders train/valid/test are detected, valid and validation map to val, --split filters but keeps every class', async () => {
    const root = tmpDir('splits');
    tree(root, ['train/cat/1.jpg', 'train/dog/2.jpg', 'valid/cat/3.jpg', 'test/bird/4.jpg', 'notes.txt']);
    const ds = await scanDataset(root);
    expect(ds.kind).toBe('imagefolder-splits');
    expect(ds.classes).toEqual(['bird', 'cat', 'dog']);
    expect(ds.items.map((i) => `${i.split}:${i.label}:${i.relPath}`)).toEqual([
      'test:bird:test/bird/4.jpg',
      'train:cat:train/cat/1.jpg',
      'train:dog:train/dog/2.jpg',
      'val:cat:valid/cat/3.jpg',
    ]);
    const val = await scanDataset(root, { split: 'validation' });
    expect(val.items.map((i) => i.relPath)).toEqual(['valid/cat/3.jpg']);
    expect(val.classes).toEqual(['bird', 'cat', 'dog']);

    const root2 = tmpDir('splits2');
    tree(root2, ['Train/a/1.jpg', 'validation/a/2.jpg']);
    const ds2 = await scanDataset(root2, { split: 'val' });
    expect(ds2.items.map((i) => [i.split, i.relPath])).toEqual([['val', 'validation/a/2.jpg']]);
  });

  test('split filter errors: unknown split name, a split with no images, a dataset without splits', async () => {
    const root = tmpDir('splitfilter');
    tree(root, ['train/cat/1.jpg', 'test/cat/2.jpg']);
    expect((await usageError(scanDataset(root, { split: 'dev' }))).message).toMatch(
      /Expected split to be train, val .* but received "dev"/,
    );
    expect((await usageError(scanDataset(root, { split: 'val' }))).message).toMatch(
      /no images in split val; it has test, train/,
    );
    const flat = tmpDir('nosplits');
    tree(flat, ['cat/1.jpg']);
    expect((await usageError(scanDataset(flat, { split: 'train' }))).message).toMatch(/has no splits/);
  });

  test('split folders beside other folders are refused unless the layout is forced', async () => {
    const root = tmpDir('mixed');
    tree(root, ['train/x.jpg', 'test/y.jpg', 'cat/z.jpg']);
    expect((await usageError(scanDataset(root))).message).toMatch(
      /mixes split folders \(test, train\) with other folders \(cat\)/,
    );
    const forced = await scanDataset(root, { layout: 'imagefolder' });
    expect(forced.classes).toEqual(['cat', 'test', 'train']);
    expect(forced.items).toHaveLength(3);
  });

  test('a split folder of loose images (Kaggle test/) gives unlabelled items of that split', async () => {
    const root = tmpDir('kaggle');
    tree(root, ['train/cat/1.jpg', 'test/a.jpg', 'test/b.jpg']);
    const ds = await scanDataset(root, { split: 'test' });
    expect(ds.items.map((i) => [i.relPath, i.label, i.split])).toEqual([
      ['test/a.jpg', undefined, 'test'],
      ['test/b.jpg', undefined, 'test'],
    ]);
    expect(ds.classes).toEqual(['cat']);
  });

  test('a folder with images at its top level is unlabelled and scanned recursively', async () => {
    const root = tmpDir('unlabelled');
    tree(root, ['b.jpg', 'a.png', 'sub/c.jpg', 'sub/deeper/d.jpg']);
    const ds = await scanDataset(root);
    expect(ds.kind).toBe('unlabelled');
    expect(ds.classes).toEqual([]);
    expect(ds.items.map((i) => i.relPath)).toEqual(['a.png', 'b.jpg', 'sub/c.jpg', 'sub/deeper/d.jpg']);
    expect(ds.items.every((i) => i.label === undefined)).toBe(true);
  });

  test('unicode and spaces in class and file names', async () => {
    const root = tmpDir('unicode');
    tree(root, ['chat noir/été 1.jpg', 'chat noir/日本 の 猫.png', 'Ünïcödé class/ファイル name (1).jpeg']);
    const ds = await scanDataset(root);
    expect(ds.classes).toEqual(['chat noir', 'Ünïcödé class']);
    expect(ds.items.map((i) => i.relPath)).toEqual([
      'chat noir/été 1.jpg',
      'chat noir/日本 の 猫.png',
      'Ünïcödé class/ファイル name (1).jpeg',
    ]);
    for (const it of ds.items) expect(fs.readFileSync(it.path).equals(JPEG)).toBe(true);
  });

  test('symbolic links: files followed, loops and duplicate links reported (not hung), broken links reported', async () => {
    const root = tmpDir('symlinks');
    tree(root, ['cat/a.jpg', 'dog/b.jpg', 'elsewhere/real.jpg']);
    fs.symlinkSync('..', path.join(root, 'cat', 'up')); // loop back to the root
    fs.symlinkSync('.', path.join(root, 'dog', 'self')); // loop onto itself
    fs.symlinkSync(path.join(root, 'elsewhere', 'real.jpg'), path.join(root, 'cat', 'linked.jpg'));
    fs.symlinkSync(path.join(root, 'nowhere.jpg'), path.join(root, 'cat', 'broken.jpg'));
    fs.symlinkSync('selfie', path.join(root, 'dog', 'selfie')); // ELOOP on stat
    const elsewhere = tmpDir('symlinks-target');
    tree(elsewhere, ['x.jpg']);
    fs.symlinkSync(elsewhere, path.join(root, 'cat', 'ext1'));
    fs.symlinkSync(elsewhere, path.join(root, 'dog', 'ext2')); // same folder twice: listed once
    const ds = await scanDataset(root);
    expect(ds.items.map((i) => i.relPath)).toEqual([
      'cat/a.jpg',
      'cat/ext1/x.jpg',
      'cat/linked.jpg',
      'dog/b.jpg',
      'elsewhere/real.jpg',
    ]);
    const reasons = new Map(ds.problems.map((p) => [path.relative(root, p.path), p.reason]));
    expect(reasons.get(path.join('cat', 'up'))).toMatch(/symbolic link loop/);
    expect(reasons.get(path.join('dog', 'self'))).toMatch(/symbolic link loop/);
    expect(reasons.get(path.join('dog', 'selfie'))).toMatch(/symbolic link loop/);
    expect(reasons.get(path.join('cat', 'broken.jpg'))).toMatch(/broken symbolic link/);
    expect(reasons.get(path.join('dog', 'ext2'))).toMatch(/already scanned/);
    expect(ds.problems).toHaveLength(5);
  });

  test('an unreadable class folder is a problem, not a crash (scanned as nobody when the tests run as root)', async () => {
    const root = tmpDir('unreadable');
    tree(root, ['cat/a.jpg', 'dog/b.jpg']);
    fs.chmodSync(path.join(root, 'dog'), 0o000);
    try {
      const ds = process.getuid?.() === 0 ? scanAsNobody(root) : await scanDataset(root);
      expect(ds.items.map((i) => i.relPath)).toEqual(['cat/a.jpg']);
      expect(ds.problems).toHaveLength(1);
      expect(ds.problems[0]?.reason).toMatch(/permission denied/);
    } finally {
      fs.chmodSync(path.join(root, 'dog'), 0o755);
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test('empty input, no images, missing folder and non-manifest files are usage errors (exit 2)', async () => {
    const empty = tmpDir('empty');
    expect((await usageError(scanDataset(empty))).message).toMatch(/contains no images/);
    const textOnly = tmpDir('textonly');
    tree(textOnly, ['cat/readme.txt', 'dog/.hidden.jpg']);
    expect((await usageError(scanDataset(textOnly))).message).toMatch(/contains no images/);
    const missing = path.join(empty, 'does-not-exist');
    expect((await usageError(scanDataset(missing))).message).toBe(
      `data ${missing} does not exist; point it at an image folder or a .csv/.jsonl manifest.`,
    );
    // From the CLI, whose startup installs flag names, the same sentence names --data.
    useParamNames(flagFor);
    expect((await usageError(scanDataset(missing))).message).toBe(
      `--data ${missing} does not exist; point it at an image folder or a .csv/.jsonl manifest.`,
    );
    useParamNames();
    tree(empty, ['file.txt']);
    expect((await usageError(scanDataset(path.join(empty, 'file.txt')))).message).toMatch(
      /not a \.csv or \.jsonl manifest/,
    );
    expect((await usageError(scanDataset(''))).message).toMatch(/Expected data to be a non-empty string/);
    expect((await usageError(scanDataset(empty, { layout: 'flat' as never }))).message).toMatch(
      /Expected layout to be one of/,
    );
  });
});
