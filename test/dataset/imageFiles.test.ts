/**
 * listImageFiles: the images a list of files and folders names, on a tmp tree of real JPEGs with the traps a user's
 * folder holds (hidden entries, text files, a link back to an ancestor, a broken link, two links to one folder):
 * sorted, each image once, output names that mirror the sub-paths, and collisions refused before anything is written.
 */
import * as fs from 'fs';
import * as path from 'path';
import { imagesUnder, listImageFiles } from '../../src/dataset';
import type { ScanProblem } from '../../src/dataset/types';
import { ConvfeatError, UsageError } from '../../src/util/errors';
import { photos, tmpDir } from '../support/data';

const [CAT, DOG] = [photos('train', 'cat', 1)[0]!, photos('train', 'dog', 1)[0]!];

function put(file: string, from = CAT): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.copyFileSync(from, file);
  return file;
}

describe('listImageFiles', () => {
  test('folders: recursive, sorted, hidden and non-image entries skipped, each real folder entered once', async () => {
    const root = path.join(tmpDir('if-tree'), 'photos');
    const b = put(path.join(root, 'b.jpg'));
    const a = put(path.join(root, 'sub', 'a.PNG'), DOG); // the name decides, as in scanDataset
    put(path.join(root, '.hidden.jpg'));
    put(path.join(root, '.cache', 'x.jpg'));
    fs.writeFileSync(path.join(root, 'notes.txt'), 'not an image');
    fs.symlinkSync(root, path.join(root, 'sub', 'loop')); // back to an ancestor: must not hang or repeat
    fs.symlinkSync(path.join(root, 'gone.jpg'), path.join(root, 'broken.jpg'));
    fs.symlinkSync(path.join(root, 'sub'), path.join(root, 'again')); // the same folder through a second name
    const problems: ScanProblem[] = [];
    const listed = (await imagesUnder(root, problems)).map((f) => f.path);
    expect(listed.map((p) => path.relative(root, p))).toEqual([path.join('again', 'a.PNG'), 'b.jpg']);
    expect(fs.realpathSync(listed[0]!)).toBe(fs.realpathSync(a));
    // What was skipped is said, once each: the link back to an ancestor, the broken link, the folder's second name.
    expect(problems.map((p) => path.relative(root, p.path)).sort()).toEqual([
      path.join('again', 'loop'),
      'broken.jpg',
      'sub',
    ]);

    const jobs = await listImageFiles([root, DOG], { extension: '.npy' });
    expect(jobs).toEqual([
      { file: listed[0], rel: path.join('photos', 'again', 'a.npy'), inFolder: true },
      { file: b, rel: path.join('photos', 'b.npy'), inFolder: true },
      { file: DOG, rel: path.basename(DOG).replace(/\.jpe?g$/i, '.npy'), inFolder: false },
    ]);
    // Without an extension the names stay the images'.
    expect((await listImageFiles([b])).map((j) => j.rel)).toEqual(['b.jpg']);
  });

  test('refusals: a path that cannot be read, a folder without images, two outputs with one name', async () => {
    const root = tmpDir('if-bad');
    const missing = path.join(root, 'missing.jpg');
    await expect(listImageFiles([missing])).rejects.toThrow(
      new ConvfeatError(`Cannot read ${missing}; check the path.`),
    );
    const empty = path.join(root, 'empty');
    fs.mkdirSync(empty);
    fs.writeFileSync(path.join(empty, 'a.txt'), 'x');
    await expect(listImageFiles([empty])).rejects.toThrow(`${empty} holds no images (.jpg, .png, …); check the path.`);

    const one = put(path.join(root, 'x', 'cat.jpg'));
    const two = put(path.join(root, 'y', 'cat.png'));
    let e: unknown;
    try {
      await listImageFiles([one, two], { extension: '.npy', collisionHint: 'use --stack' });
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).toBe(
      `${one} and ${two} would both be written as cat.npy; pass them in separate calls or use --stack.`,
    );
    // Their own names differ, so without a new extension there is no collision; the same file twice is no collision.
    expect(await listImageFiles([one, two])).toHaveLength(2);
    expect(await listImageFiles([one, one], { extension: '.npy' })).toHaveLength(2);
  });
});
