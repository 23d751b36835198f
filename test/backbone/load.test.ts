/**
 * prepareBackbone keeps the cut of large models in <store>/cut/; a changed model file must never reuse an old cut
 * (even when its size and mtime are preserved, as `cp -p` or `touch -r` do), and the outdated cut is removed.
 */
import * as fs from 'fs';
import * as path from 'path';
import { prepareBackbone } from '../../src/backbone/load';
import { tmpDir } from '../support/data';
import { realResnet50 } from '../support/model';

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
