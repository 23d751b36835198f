/**
 * The tensor writer behind `convfeat preprocess`, on real JPEGs with the torchvision spec: each written .npy holds
 * exactly the tensor preprocessDetailed gives, the stacked array's rows follow the .txt, bad outputs are refused
 * before any work (naming `out`/`stack`, or the flags from the CLI), and an image that fails keeps the files already
 * written and names itself.
 */
import * as fs from 'fs';
import * as path from 'path';
import { flagFor } from '../../src/commands/flags';
import { listImageFiles } from '../../src/dataset';
import { preprocessDetailed, prepareTensorOutput, TORCHVISION_IMAGENET, writeTensors } from '../../src/preprocess';
import { ConvfeatError, UsageError } from '../../src/util/errors';
import { decodeNpy } from '../../src/util/npy';
import { useParamNames } from '../../src/util/params';
import { photos, tmpDir } from '../support/data';

afterEach(() => useParamNames());

const OPTS = { spec: TORCHVISION_IMAGENET, exif: 'ignore' } as const;
const ONE = 3 * 224 * 224;

async function expected(file: string): Promise<Float32Array> {
  return (await preprocessDetailed(fs.readFileSync(file), OPTS)).tensor;
}

function tree(): { folder: string; dog: string; work: string } {
  const work = tmpDir('wt');
  const folder = path.join(work, 'cats');
  for (const [i, src] of photos('train', 'cat', 2).entries()) {
    fs.mkdirSync(path.join(folder, `s${i}`), { recursive: true });
    fs.copyFileSync(src, path.join(folder, `s${i}`, `c${i}.jpg`));
  }
  return { folder, dog: photos('train', 'dog', 1)[0]!, work };
}

describe('writeTensors', () => {
  test('one .npy per image under the folder, mirroring sub-paths; single and stacked outputs', async () => {
    const { folder, dog, work } = tree();
    const jobs = await listImageFiles([folder, dog], { extension: '.npy' });
    const dir = path.join(work, 'out');
    expect(prepareTensorOutput(jobs, dir)).toBe('files');
    const r = await writeTensors(jobs, dir, 'files', OPTS);
    expect(r.shape).toEqual([1, 3, 224, 224]);
    expect(r.paths).toBeNull();
    expect(r.files.map((f) => path.relative(dir, f.out))).toEqual([
      path.join('cats', 's0', 'c0.npy'),
      path.join('cats', 's1', 'c1.npy'),
      path.basename(dog).replace(/\.jpg$/i, '.npy'),
    ]);
    for (const f of r.files) {
      const arr = decodeNpy(fs.readFileSync(f.out));
      expect(arr.shape).toEqual([1, 3, 224, 224]);
      expect(Buffer.from((arr.data as Float32Array).buffer).equals(Buffer.from((await expected(f.image)).buffer))).toBe(
        true,
      );
      expect(f.source.width).toBeGreaterThan(0);
    }

    const stackFile = path.join(work, 'stack', 'all.npy');
    expect(prepareTensorOutput(jobs, stackFile, true)).toBe('stack');
    const lines: string[] = [];
    const s = await writeTensors(jobs, stackFile, 'stack', OPTS, (l) => lines.push(l));
    expect(s.shape).toEqual([3, 3, 224, 224]);
    expect(s.paths).toBe(path.join(work, 'stack', 'all.txt'));
    expect(fs.readFileSync(s.paths!, 'utf8')).toBe(`${jobs.map((j) => j.file).join('\n')}\n`);
    const stacked = decodeNpy(fs.readFileSync(stackFile));
    expect(stacked.shape).toEqual([3, 3, 224, 224]);
    // Row i is byte for byte the tensor of the i-th listed image (compared as bytes: a diff of 150k floats is unreadable).
    const rows = Buffer.from((stacked.data as Float32Array).buffer);
    for (const [i, j] of jobs.entries())
      expect(rows.subarray(4 * i * ONE, 4 * (i + 1) * ONE).equals(Buffer.from((await expected(j.file)).buffer))).toBe(
        true,
      );
    expect(lines).toEqual([]); // progress every 50 images only
    expect(fs.readdirSync(path.join(work, 'stack')).sort()).toEqual(['all.npy', 'all.txt']); // no temp files left

    const single = await listImageFiles([dog], { extension: '.npy' });
    const file = path.join(work, 'dog.npy');
    expect(prepareTensorOutput(single, file)).toBe('single');
    const d = await writeTensors(single, file, 'single', OPTS);
    expect(d.files).toEqual([{ image: dog, out: file, source: d.files[0]!.source }]);
    // A folder holding one image is still a folder: its tensor goes under the output folder.
    const oneInFolder = await listImageFiles([path.join(folder, 's0')], { extension: '.npy' });
    expect(prepareTensorOutput(oneInFolder, path.join(work, 'o2'))).toBe('files');
  });

  test('bad outputs are refused before any work, naming the parameter (the flag from the CLI)', async () => {
    const { folder, dog, work } = tree();
    const many = await listImageFiles([folder, dog], { extension: '.npy' });
    const single = await listImageFiles([dog], { extension: '.npy' });
    const refusal = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return (e as Error).message;
      }
      throw new Error('expected a refusal');
    };
    expect(refusal(() => prepareTensorOutput(single, work))).toBe(
      `out ${work} is a folder; give a file name such as ${path.join(work, 'input.npy')}.`,
    );
    expect(refusal(() => prepareTensorOutput(single, path.join(work, 'x.bin')))).toBe(
      `Expected out to name a .npy file but received ${JSON.stringify(path.join(work, 'x.bin'))}`,
    );
    const npy = path.join(work, 'many.npy');
    expect(refusal(() => prepareTensorOutput(many, npy))).toBe(
      `out ${npy} names a .npy file but 3 images need a directory (or add stack for one array).`,
    );
    useParamNames(flagFor);
    expect(refusal(() => prepareTensorOutput(many, npy))).toBe(
      `--out ${npy} names a .npy file but 3 images need a directory (or add --stack for one array).`,
    );
    fs.writeFileSync(path.join(work, 'plain'), 'x');
    expect(refusal(() => prepareTensorOutput(many, path.join(work, 'plain')))).toBe(
      `--out ${path.join(work, 'plain')} is a file; several images need a directory (or --stack for one .npy).`,
    );
  });

  test('an image that fails names itself and keeps the tensors already written', async () => {
    const { folder, work } = tree();
    fs.writeFileSync(
      path.join(folder, 's1', 'c1.jpg'),
      fs.readFileSync(photos('train', 'cat', 1)[0]!).subarray(0, 200),
    );
    const jobs = await listImageFiles([folder], { extension: '.npy' });
    const dir = path.join(work, 'out');
    const e = await writeTensors(jobs, dir, 'files', OPTS).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(ConvfeatError);
    expect((e as Error).message.startsWith(`${path.join(folder, 's1', 'c1.jpg')}: `)).toBe(true);
    expect(fs.existsSync(path.join(dir, 'cats', 's0', 'c0.npy'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'cats', 's1'))).toBe(false);
  });
});
