/**
 * prepareBackbone keeps the cut of large models in <store>/cut/; a changed model file must never reuse an old cut
 * (even when its size and mtime are preserved, as `cp -p` or `touch -r` do), and the outdated cut is removed. Small
 * models are cut on every run instead.
 */
import * as fs from 'fs';
import * as path from 'path';
import { prepareBackbone } from '../../src/backbone/load';
import { tmpDir } from '../support/data';
import { realResnet50 } from '../support/model';
import { TINY_DIM, writeTinyBackbone } from '../support/tinyBackbone';
import { modelFingerprint } from '../../src/backbone/graph/fingerprint';

test('a changed model file with its size and mtime preserved gets a new cut and fingerprint', async () => {
  const work = tmpDir('load');
  const model = path.join(work, 'mine.onnx');
  fs.copyFileSync(await realResnet50(), model);
  const store = path.join(work, 'store');
  const first = await prepareBackbone({ model, storeDir: store });
  const again = await prepareBackbone({ model, storeDir: store });
  expect(again.fingerprint).toBe(first.fingerprint);
  expect(again.dim).toBe(2048);

  const { mtime, atime } = fs.statSync(model);
  const fd = fs.openSync(model, 'r+');
  fs.writeSync(fd, Buffer.from([1, 2, 3, 4]), 0, 4, 50_000_000); // inside the weights
  fs.closeSync(fd);
  fs.utimesSync(model, atime, mtime);
  const changed = await prepareBackbone({ model, storeDir: store });
  expect(changed.fingerprint).not.toBe(first.fingerprint);
  expect(fs.readdirSync(path.join(store, 'cut')).filter((n) => n.endsWith('.onnx'))).toHaveLength(1);
  fs.rmSync(work, { recursive: true, force: true });
});

test('a small model is cut on every run and leaves nothing in <store>/cut', async () => {
  const work = tmpDir('load-small');
  const model = writeTinyBackbone(work);
  const store = path.join(work, 'store');
  const a = await prepareBackbone({ model, storeDir: store });
  const b = await prepareBackbone({ model, storeDir: store });
  expect(b.fingerprint).toBe(a.fingerprint);
  expect(a).toMatchObject({ name: 'tiny', file: model, precision: 'fp32', dim: TINY_DIM, tensor: 'flat' });
  expect(fs.existsSync(path.join(store, 'cut'))).toBe(false);
  // The cut graph the door hands out is the one the fingerprint names.
  expect(modelFingerprint(a.cutBytes())).toBe(a.fingerprint);
  fs.rmSync(work, { recursive: true, force: true });
});
