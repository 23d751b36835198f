/**
 * The bundled int8 ResNet50: built from the committed range table, the same bytes for everyone (its fingerprint is
 * pinned in onnx/models.json and a fresh quantisation reproduces it), onnxruntime turns all 53 convolutions into
 * integer kernels, and its embeddings of real photos agree with fp32.
 */
import { rowCosines } from '../../src/util/embeddings';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { openBackbone, prepareBackbone } from '../../src/backbone/load';
import { modelFingerprint } from '../../src/backbone/graph/fingerprint';
import { decodeModel, encodeModel, loadModel } from '../../src/backbone/graph/proto';
import { quantizeModel, readRangeTable } from '../../src/backbone/quantize';
import { resolveModel } from '../../src/backbone/store';
import { preprocess } from '../../src/preprocess';
import { photos, tmpDir } from '../support/data';
import { realResnet50, STORE_DIR } from '../support/model';

const CLASSES = ['airplane', 'car', 'cat', 'dog', 'flower', 'fruit', 'motorbike', 'person'];

beforeAll(async () => {
  await realResnet50();
});

test('--precision int8 gives the pinned fingerprint, and quantising again gives the same bytes', async () => {
  const entry = resolveModel('resnet50');
  const int8 = await prepareBackbone({ model: 'resnet50', precision: 'int8', storeDir: STORE_DIR });
  expect(int8.name).toBe('resnet50@int8');
  expect(int8.fingerprint).toBe(entry.int8!.fingerprint);
  expect(int8.int8!.quantized).toBe(53);
  const fp32 = await prepareBackbone({ model: 'resnet50', storeDir: STORE_DIR });
  expect(fp32.fingerprint).not.toBe(int8.fingerprint);
  const table = readRangeTable(path.join(STORE_DIR, entry.int8!.ranges));
  expect(table.fp32Fingerprint).toBe(fp32.fingerprint);
  // Independent of the int8 cache in onnx/cut: a fresh quantisation of the fp32 cut.
  const again = encodeModel(quantizeModel(decodeModel(fp32.cutBytes(), 'resnet50'), { ranges: table.ranges }).model);
  expect(modelFingerprint(again)).toBe(int8.fingerprint);
  expect(again.length).toBeLessThan(fp32.cutBytes().length / 3.5); // 24 MB instead of 94 MB
});

test('onnxruntime runs every convolution as an integer kernel, and embeddings agree with fp32 on real photos', async () => {
  const int8 = await prepareBackbone({ model: 'resnet50@int8', storeDir: STORE_DIR });
  const optimized = path.join(tmpDir('int8-opt'), 'optimized.onnx');
  const session = await ort.InferenceSession.create(int8.cutBytes(), {
    intraOpNumThreads: 1,
    optimizedModelFilePath: optimized,
    logSeverityLevel: 3, // its warning that an optimised file is hardware-specific is expected here
  });
  await session.release();
  const ops = (loadModel(optimized).graph!.node ?? []).map((n) => n.opType);
  expect(ops.filter((o) => o === 'QLinearConv')).toHaveLength(53);
  expect(ops.filter((o) => o === 'Conv' || o === 'FusedConv')).toHaveLength(0);

  const fp32 = await prepareBackbone({ model: 'resnet50', storeDir: STORE_DIR });
  const files = CLASSES.flatMap((c) => photos('test', c, 2));
  const n = files.length;
  const per = 3 * 224 * 224;
  const batch = new Float32Array(n * per);
  for (let i = 0; i < n; i++)
    batch.set(await preprocess(fs.readFileSync(files[i]!), { spec: fp32.spec, exif: 'apply' }), i * per);
  const threads = Math.min(2, os.availableParallelism());
  const a = await openBackbone(fp32, { device: 'cpu', threads });
  const b = await openBackbone(int8, { device: 'cpu', threads });
  try {
    expect(b.identity.model).toBe('resnet50@int8');
    expect(b.identity.preprocessFingerprint).toBe(a.identity.preprocessFingerprint);
    const ea = await a.embed(batch, n);
    const eb = await b.embed(batch, n);
    const cos = rowCosines(ea, eb, n);
    expect(cos.reduce((s, c) => s + c, 0) / n).toBeGreaterThanOrEqual(0.99);
    expect(Math.min(...cos)).toBeGreaterThanOrEqual(0.98);
  } finally {
    await a.close();
    await b.close();
  }
});
