/**
 * backbone/store/resolve: what a model name means, before anything is cut or opened. A manifest name (with or
 * without @int8), a path to a user's .onnx file, a classical extractor, and the one-sentence refusals.
 */
import * as fs from 'fs';
import * as path from 'path';
import { resolveBackbone, PREPROCESS_PRESETS } from '../../src/backbone/load';
import { KERAS_CAFFE, TORCHVISION_IMAGENET } from '../../src/preprocess';
import { UsageError } from '../../src/util/errors';
import { useParamNames } from '../../src/util/params';
import { flagFor } from '../../src/commands/flags';
import { tmpDir } from '../support/data';
import { realResnet50, STORE_DIR } from '../support/model';
import { writeTinyBackbone } from '../support/tinyBackbone';

let work: string;
beforeAll(() => (work = tmpDir('resolve')));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

test('a manifest name resolves to its file in the store, its own preprocessing and precision', async () => {
  await realResnet50();
  const r = await resolveBackbone({ model: 'resnet50', storeDir: STORE_DIR });
  expect(r).toMatchObject({
    kind: 'onnx',
    name: 'resnet50',
    precision: 'fp32',
    storeDir: STORE_DIR,
    spec: KERAS_CAFFE,
  });
  if (r.kind !== 'onnx') throw new Error('unreachable');
  expect(path.dirname(r.file)).toBe(STORE_DIR);
  expect(await resolveBackbone({ model: 'resnet50@int8', storeDir: STORE_DIR })).toMatchObject({
    kind: 'onnx',
    name: 'resnet50',
    precision: 'int8',
  });
  await expect(resolveBackbone({ model: 'resnet50@int8', precision: 'fp32', storeDir: STORE_DIR })).rejects.toThrow(
    'model resnet50@int8 names precision int8 but precision is fp32; drop one of them.',
  );
  await expect(resolveBackbone({ model: 'resnet50', preprocess: 'caffe', storeDir: STORE_DIR })).rejects.toThrow(
    /^preprocess applies to your own ONNX files; resnet50 carries its own preprocessing/,
  );
});

test('a user file gets torchvision preprocessing unless a preset or JSON spec is named', async () => {
  const file = writeTinyBackbone(work);
  const r = await resolveBackbone({ model: file, storeDir: work });
  expect(r).toMatchObject({ kind: 'onnx', file: path.resolve(file), spec: TORCHVISION_IMAGENET, storeDir: work });
  expect(await resolveBackbone({ model: file, preprocess: 'caffe', storeDir: work })).toMatchObject({
    spec: PREPROCESS_PRESETS.caffe,
  });
  await expect(resolveBackbone({ model: path.join(work, 'none.onnx') })).rejects.toThrow(
    /is neither a known model \(convfeat models list\) nor an existing \.onnx file\.$/,
  );
  await expect(resolveBackbone({ model: file, preprocess: 'pytorch' })).rejects.toThrow(
    'Expected preprocess to be one of torchvision, caffe or a JSON file but received "pytorch"',
  );
});

test('classical extractors resolve without a graph and refuse ONNX-only options', async () => {
  const r = await resolveBackbone({ model: 'classical:hog' });
  expect(r.kind).toBe('classical');
  await expect(resolveBackbone({ model: 'classical:hog', layer: 'x' })).rejects.toThrow(UsageError);
  await expect(resolveBackbone({ model: 'classical:hog', precision: 'int8' })).rejects.toThrow(
    'precision int8 applies to ONNX backbones; classical:hog has no network to quantise.',
  );
  await expect(resolveBackbone({ model: 'resnet5' })).rejects.toThrow(/^Expected model to be one of .*resnet50/);
});

test('the same refusals name the flag a CLI user typed once the CLI installs its names', async () => {
  useParamNames(flagFor);
  try {
    await expect(resolveBackbone({ model: 'classical:hog', precision: 'int8' })).rejects.toThrow(
      '--precision int8 applies to ONNX backbones; classical:hog has no network to quantise.',
    );
    await expect(resolveBackbone({ model: '' })).rejects.toThrow(
      'Expected --model to be a non-empty string but received ""',
    );
  } finally {
    useParamNames();
  }
  await expect(resolveBackbone({ model: '' })).rejects.toThrow(
    'Expected model to be a non-empty string but received ""',
  );
});
