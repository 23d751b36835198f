/**
 * `convfeat preprocess` on several images and a folder (issue 12): one .npy per image under --out DIR, or one stacked
 * N×3×H×W array with --stack, each row byte-identical to what the one-image call writes.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { decodeNpy } from '../../src/util/npy';
import { photos, REPO_ROOT, tmpDir } from '../support/data';
import { realResnet50 } from '../support/model';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const run = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 300000 });

describe('preprocess: several images, folders, --stack', () => {
  const work = tmpDir('preprocess-many');
  const folder = path.join(work, 'pets');
  const cats = photos('test', 'cat', 2);
  const dog = photos('test', 'dog', 1)[0];
  beforeAll(async () => {
    await realResnet50();
    fs.mkdirSync(path.join(folder, 'cats'), { recursive: true });
    for (const c of cats) fs.copyFileSync(c, path.join(folder, 'cats', path.basename(c)));
    fs.writeFileSync(path.join(folder, 'notes.txt'), 'not an image');
  });

  test('a folder and a file → one .npy each, equal to the one-image call; --stack → one array in the same order', () => {
    const dir = path.join(work, 'out');
    const many = run(['preprocess', folder, dog, '--model', 'resnet50', '--out', dir, '--json']);
    expect(many.status).toBe(0);
    const summary = JSON.parse(many.stdout);
    expect(summary.formatVersion).toBe(1);
    expect(summary.images).toBe(3);
    const files = [
      'pets/cats/' + path.basename(cats[0]),
      'pets/cats/' + path.basename(cats[1]),
      path.basename(dog),
    ].map((f) => path.join(dir, f.replace(/\.jpg$/i, '.npy')));
    for (const f of files) expect(fs.existsSync(f)).toBe(true);

    const single = path.join(work, 'one.npy');
    expect(run(['preprocess', cats[1], '--model', 'resnet50', '--out', single]).status).toBe(0);
    const one = decodeNpy(fs.readFileSync(single));
    expect(one.shape).toEqual([1, 3, 224, 224]);
    expect(Buffer.compare(fs.readFileSync(files[1]), fs.readFileSync(single))).toBe(0);

    const stackFile = path.join(work, 'stack.npy');
    const stacked = run(['preprocess', folder, dog, '--model', 'resnet50', '--out', stackFile, '--stack']);
    expect(stacked.status).toBe(0);
    const arr = decodeNpy(fs.readFileSync(stackFile));
    expect(arr.shape).toEqual([3, 3, 224, 224]);
    const order = fs
      .readFileSync(stackFile.replace(/\.npy$/, '.txt'), 'utf8')
      .trim()
      .split('\n');
    expect(order.map((p) => path.basename(p))).toEqual([...cats, dog].map((p) => path.basename(p)));
    const per = 3 * 224 * 224;
    files.forEach((f, i) => {
      const row = decodeNpy(fs.readFileSync(f)).data as Float32Array;
      expect(Array.from((arr.data as Float32Array).subarray(i * per, (i + 1) * per))).toEqual(Array.from(row));
    });
  });

  test('refusals: several images into one .npy without --stack, a folder without images', () => {
    const r = run(['preprocess', cats[0], dog, '--model', 'resnet50', '--out', path.join(work, 'x.npy')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('names a .npy file but 2 images need a directory (or add --stack');
    const empty = path.join(work, 'empty');
    fs.mkdirSync(empty);
    const e = run(['preprocess', empty, '--model', 'resnet50', '--out', path.join(work, 'e')]);
    expect(e.status).toBe(1);
    expect(e.stderr).toContain('holds no images');
  });
});
