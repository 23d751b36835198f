/**
 * readAhead on real files: small files (read whole, then sniffed) and large ones (sniffed from a head read first)
 * give the exact bytes, and every refusal keeps its sentence whichever path read the file.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readAhead, readReason } from '../../src/cache/readAhead';
import type { DatasetItem } from '../../src/dataset/types';
import { photos } from '../support/data';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'convfeat-readahead-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const item = (file: string): DatasetItem => ({ path: file, relPath: path.basename(file) });

async function readAll(files: string[], maxFileBytes = 256 * 1024 * 1024) {
  const out: Array<{ bytes?: Buffer; reason?: string }> = [];
  for await (const r of readAhead(files.map(item), { maxFileBytes, depth: 4 })) {
    out.push(r.error !== undefined ? { reason: readReason(r.error) } : { bytes: r.bytes! });
  }
  return out;
}

test('small and large images come back byte for byte, in order', async () => {
  const small = photos('train', 'cat', 3);
  // A JPEG over the whole-read threshold (1 MB): a real photo's bytes with padding after its end marker.
  const large = path.join(work, 'large.jpg');
  fs.writeFileSync(large, Buffer.concat([fs.readFileSync(small[0]!), Buffer.alloc(3 * 1024 * 1024, 7)]));
  const files = [small[0]!, large, small[1]!, small[2]!];
  const got = await readAll(files);
  got.forEach((g, i) => expect(g.bytes!.equals(fs.readFileSync(files[i]!))).toBe(true));
  // the view holds only the file, nothing of a shared or larger allocation beyond it
  expect(got[0]!.bytes!.byteLength).toBe(fs.statSync(files[0]!).size);
});

test('refusals keep their sentences on both paths: not an image, empty, over the limit, not a regular file', async () => {
  const text = path.join(work, 'notes.jpg');
  fs.writeFileSync(text, 'just some text, not a JPEG at all\n'.repeat(4));
  const bigText = path.join(work, 'big.jpg');
  fs.writeFileSync(bigText, Buffer.alloc(2 * 1024 * 1024, 0x41));
  const empty = path.join(work, 'empty.jpg');
  fs.writeFileSync(empty, '');
  const dir = path.join(work, 'folder.jpg');
  fs.mkdirSync(dir);
  const photo = photos('train', 'dog', 1)[0]!;
  const got = await readAll([text, bigText, empty, dir, photo]);
  expect(got.map((g) => g.reason)).toEqual([
    'not an image or unsupported format',
    'not an image or unsupported format',
    'empty file (0 bytes)',
    'not a regular file',
    undefined,
  ]);
  const limited = await readAll([photo], 1000);
  expect(limited[0]!.reason).toMatch(/^file is 0\.0 MB, over the 0\.0 MB limit per image/);
  // a file just at the limit is read (the limit is inclusive)
  const size = fs.statSync(photo).size;
  expect((await readAll([photo], size))[0]!.bytes!.length).toBe(size);
});
