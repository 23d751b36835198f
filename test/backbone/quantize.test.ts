/**
 * The quantiser on tiny torchvision-shaped graphs: the QDQ structure it writes, that onnxruntime runs the result close
 * to fp32, and that ops it does not handle stay fp32, are listed, and do not stop the rest from being quantised.
 */
import { rowCosines } from '../../src/util/embeddings';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import {
  activationParams,
  collectStats,
  foldBatchNorms,
  foldZeroPads,
  quantizeModel,
  pickCalibrationItems,
  quantizeWeights,
  RANGE_TABLE_FORMAT,
  rangeOf,
  readRangeTable,
  writeRangeTable,
  rangeTable,
  tensorsToCalibrate,
  type RangeTable,
  type RangeTableFile,
} from '../../src/backbone/quantize';
import {
  ElemType,
  encodeModel,
  floatTensor,
  int64Tensor,
  loadModel,
  makeModel,
  node,
  onnx,
  valueInfo,
} from '../../src/backbone/graph/proto';
import {
  IMAGE_SIZE,
  randomImages,
  resnetLike,
  seededRandom,
  vggLike,
  withInitializersAsInputs,
} from '../support/graphs';

const N = 16;
const DIMS = [3, IMAGE_SIZE, IMAGE_SIZE];

async function run(model: onnx.IModelProto, images: Float32Array, n: number, output = 'output'): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(encodeModel(model), { intraOpNumThreads: 1 });
  try {
    const r = await s.run({ input: new ort.Tensor('float32', images, [n, ...DIMS]) }, [output]);
    return r[output]!.data as Float32Array;
  } finally {
    await s.release();
  }
}

async function calibrated(model: onnx.ModelProto): Promise<RangeTable> {
  const stats = await collectStats(model, tensorsToCalibrate(model), {
    images: randomImages(N, 11),
    n: N,
    imageDims: DIMS,
  });
  return rangeTable(stats, { kind: 'minmax' });
}

const producerOf = (g: onnx.IGraphProto, tensor: string) => (g.node ?? []).find((n) => n.output?.includes(tensor));
const initOf = (g: onnx.IGraphProto, name: string) => (g.initializer ?? []).find((t) => t.name === name);

describe('quantizeModel on a ResNet-like graph', () => {
  test('every Conv and the Gemm read int8 per-channel weights and a quantised input; BatchNorms are folded first', async () => {
    const tiny = resnetLike({ batchNorm: true });
    const ranges = await calibrated(tiny.model);
    const { model, report } = quantizeModel(tiny.model, { ranges });
    const g = model.graph!;
    const convs = (g.node ?? []).filter((n) => n.opType === 'Conv' || n.opType === 'Gemm');
    expect(convs).toHaveLength(7); // conv1, four block convs, the downsample, and fc
    expect(report.quantized.map((q) => q.opType).sort()).toEqual([...new Array(6).fill('Conv'), 'Gemm']);
    expect(report.foldedBatchNorms).toBe(5);
    expect((g.node ?? []).some((n) => n.opType === 'BatchNormalization')).toBe(false);
    for (const c of convs) {
      // input: DequantizeLinear ← QuantizeLinear, uint8 zero point
      const dqx = producerOf(g, c.input![0]!)!;
      expect(dqx.opType).toBe('DequantizeLinear');
      expect(producerOf(g, dqx.input![0]!)!.opType).toBe('QuantizeLinear');
      expect(initOf(g, dqx.input![2]!)!.dataType).toBe(ElemType.UINT8);
      // weight: DequantizeLinear of an int8 initializer, one scale per output channel, symmetric (zero points 0)
      const dqw = producerOf(g, c.input![1]!)!;
      expect(dqw.opType).toBe('DequantizeLinear');
      const wq = initOf(g, dqw.input![0]!)!;
      expect(wq.dataType).toBe(ElemType.INT8);
      const outChannels = Number(wq.dims![c.opType === 'Gemm' ? 0 : 0]);
      expect(initOf(g, dqw.input![1]!)!.dims!.map(Number)).toEqual([outChannels]);
      expect([...new Int8Array(initOf(g, dqw.input![2]!)!.rawData!)]).toEqual(new Array(outChannels).fill(0));
      expect(dqw.attribute?.find((a) => a.name === 'axis')?.i).toBe(0);
      // bias: int32 behind a DequantizeLinear
      const dqb = producerOf(g, c.input![2]!)!;
      expect(dqb.opType).toBe('DequantizeLinear');
      expect(initOf(g, dqb.input![0]!)!.dataType).toBe(ElemType.INT32);
      // output quantised too (after the ReLU when a ReLU is its only reader), so onnxruntime fuses DQ → Conv → Q
      const readers = (g.node ?? []).filter((n) => n.input?.includes(c.output![0]!));
      const quantisedAt =
        readers.length === 1 && readers[0]!.opType === 'Relu' ? readers[0]!.output![0]! : c.output![0]!;
      if (c.opType === 'Conv') {
        expect((g.node ?? []).some((n) => n.opType === 'QuantizeLinear' && n.input![0] === quantisedAt)).toBe(true);
        if (quantisedAt !== c.output![0]) {
          // not before the ReLU: that would spend half the levels on negatives the ReLU discards
          expect((g.node ?? []).some((n) => n.opType === 'QuantizeLinear' && n.input![0] === c.output![0])).toBe(false);
        }
      }
    }
    // no fp32 weight of a quantised node is left behind
    expect((g.initializer ?? []).filter((t) => t.dataType === ElemType.FLOAT && (t.dims ?? []).length === 4)).toEqual(
      [],
    );
    expect(report.keptFp32.map((k) => k.opType).sort()).toEqual(
      ['Add', 'Add', 'GlobalAveragePool', 'Relu', 'Relu', 'Relu', 'Relu', 'Relu'].sort(),
    );
    // the MaxPool between the stem and layer1 reuses its input's quantisation instead of being kept fp32
    expect(report.sharedScale.map((n) => n.opType)).toEqual(['MaxPool']);

    const images = randomImages(N, 5);
    const fp32 = await run(tiny.model, images, N);
    const int8 = await run(model, images, N);
    expect(Math.min(...rowCosines(fp32, int8, N))).toBeGreaterThan(0.99);
  });

  test('the same model and ranges give the same bytes (the int8 fingerprint is a function of its inputs)', async () => {
    const tiny = resnetLike({ batchNorm: true, seed: 9 });
    const ranges = await calibrated(tiny.model);
    const a = encodeModel(quantizeModel(tiny.model, { ranges }).model);
    const b = encodeModel(quantizeModel(resnetLike({ batchNorm: true, seed: 9 }).model, { ranges }).model);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });

  test('folding BatchNorms keeps the function', async () => {
    const tiny = resnetLike({ batchNorm: true, seed: 3 });
    const { model, folded } = foldBatchNorms(tiny.model);
    expect(folded).toBe(5);
    const images = randomImages(4, 8);
    const a = await run(tiny.model, images, 4);
    const b = await run(model, images, 4);
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i]!, 4);
  });
});

/** input → Conv → Relu → `between` → Conv → output, all 8 channels, for the shared-scale rule. */
function convPairAround(between: onnx.INodeProto[], extraInits: onnx.ITensorProto[] = []): onnx.ModelProto {
  const rnd = seededRandom(21);
  const weights = (name: string, cin: number) =>
    floatTensor(
      name,
      [8, cin, 3, 3],
      Float32Array.from({ length: 8 * cin * 9 }, () => (rnd() - 0.5) * 0.4),
    );
  return makeModel({
    name: 'pair',
    nodes: [
      node('Conv', ['input', 'w1'], ['c1'], { pads: [1, 1, 1, 1] }),
      node('Relu', ['c1'], ['r1']),
      ...between,
      node('Conv', [between.at(-1)!.output![0]!, 'w2'], ['output'], { pads: [1, 1, 1, 1] }),
    ],
    inputs: [valueInfo('input', ['n', 3, IMAGE_SIZE, IMAGE_SIZE])],
    outputs: [valueInfo('output', ['n', 8, 'h', 'w'])],
    initializers: [weights('w1', 3), weights('w2', 8), ...extraInits],
  });
}

describe('value-preserving ops between quantised tensors share their input quantisation', () => {
  const qParams = (g: onnx.IGraphProto, tensor: string) => {
    const q = (g.node ?? []).find((n) => n.opType === 'QuantizeLinear' && n.input![0] === tensor)!;
    return [...initOf(g, q.input![1]!)!.rawData!, ...initOf(g, q.input![2]!)!.rawData!];
  };
  const ranges: RangeTable = { input: [-2, 2], r1: [0, 3], p: [0, 1.5], m: [0, 2.5], output: [-1, 1] };

  test('Pad (zero) → MaxPool: the pool output is quantised like the ReLU before it, and onnxruntime pools on uint8', async () => {
    const model = convPairAround(
      [
        node('Pad', ['r1', 'pads'], ['p'], { mode: 'constant' }),
        node('MaxPool', ['p'], ['m'], { kernel_shape: [3, 3], strides: [2, 2] }),
      ],
      [int64Tensor('pads', [8], [0, 0, 1, 1, 0, 0, 1, 1])],
    );
    const { model: q, report } = quantizeModel(model, { ranges });
    expect(qParams(q.graph!, 'm')).toEqual(qParams(q.graph!, 'r1'));
    expect(report.sharedScale.map((n) => n.opType)).toEqual(['Pad', 'MaxPool']);
    expect(report.keptFp32.map((n) => n.opType)).toEqual(['Relu']);

    // What the sharing is for: onnxruntime drops the DequantizeLinear/QuantizeLinear around the pool.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convfeat-qdq-'));
    try {
      const optimized = path.join(dir, 'opt.onnx');
      const s = await ort.InferenceSession.create(encodeModel(q), {
        intraOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        optimizedModelFilePath: optimized,
      });
      await s.release();
      const nodes = loadModel(optimized).graph!.node ?? [];
      const pools = nodes.filter((n) => /MaxPool/.test(n.opType!));
      expect(pools).toHaveLength(1);
      // it reads the integer convolution's uint8 output directly: no DequantizeLinear, reorder or fp32 pool between
      expect(nodes.find((n) => n.output!.includes(pools[0]!.input![0]!))!.opType).toBe('QLinearConv');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const images = randomImages(4, 3);
    const fp32 = await run(model, images, 4);
    const int8 = await run(q, images, 4);
    expect(Math.min(...rowCosines(fp32, int8, 4))).toBeGreaterThan(0.98);
  });

  test('a Pad that fills with anything but 0, and an AveragePool, keep their own calibrated ranges', () => {
    const filled = quantizeModel(
      convPairAround(
        [node('Pad', ['r1', 'pads', 'fill'], ['p'], { mode: 'constant' })],
        [int64Tensor('pads', [8], [0, 0, 1, 1, 0, 0, 1, 1]), floatTensor('fill', [], [0.5])],
      ),
      { ranges },
    );
    expect(qParams(filled.model.graph!, 'p')).not.toEqual(qParams(filled.model.graph!, 'r1'));
    expect(filled.report.sharedScale).toEqual([]);
    expect(filled.report.keptFp32.map((n) => n.opType)).toEqual(['Relu', 'Pad']);

    const averaged = quantizeModel(
      convPairAround([node('AveragePool', ['r1'], ['m'], { kernel_shape: [2, 2], strides: [2, 2] })]),
      { ranges },
    );
    expect(qParams(averaged.model.graph!, 'm')).not.toEqual(qParams(averaged.model.graph!, 'r1'));
    expect(averaged.report.sharedScale).toEqual([]);
  });
});

describe('zero Pads (Keras ZeroPadding2D) fold into the convolution that reads them', () => {
  test("the stem Pad becomes the Conv's own pads: same function, the input quantised directly, ranges keep their names", async () => {
    const keras = resnetLike({ kerasStyle: true, seed: 6 });
    const { model: folded, folded: n, aliases } = foldZeroPads(keras.model);
    expect(n).toBe(1);
    const conv1 = (folded.graph!.node ?? []).find((x) => x.opType === 'Conv')!;
    expect(conv1.input![0]).toBe('input');
    // the stem conv had pads 0 and the Pad added 1 on each side of H and W
    expect(conv1.attribute!.find((a) => a.name === 'pads')!.ints!.map(Number)).toEqual([1, 1, 1, 1]);
    expect((folded.graph!.node ?? []).some((x) => x.opType === 'Pad')).toBe(false);
    const padOut = (keras.model.graph!.node ?? []).find((x) => x.opType === 'Pad')!.output![0]!;
    expect([...aliases]).toEqual([['input', padOut]]);
    const images = randomImages(4, 12);
    const a = await run(keras.model, images, 4);
    const b = await run(folded, images, 4);
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i]!, 4);

    // The range table still names the tensor the original model has (the Pad's output), and quantising with it
    // puts the QuantizeLinear on the graph input itself.
    expect(tensorsToCalibrate(keras.model)).toContain(padOut);
    expect(tensorsToCalibrate(keras.model)).not.toContain('input');
    const ranges = await calibrated(keras.model);
    const { model: q, report } = quantizeModel(keras.model, { ranges });
    expect(report.foldedPads).toBe(1);
    expect(report.keptFp32.map((k) => k.opType)).not.toContain('Pad');
    const first = (q.graph!.node ?? []).find((x) => x.opType === 'QuantizeLinear')!;
    expect(first.input![0]).toBe('input');
    const int8 = await run(q, images, 4);
    expect(Math.min(...rowCosines(a, int8, 4))).toBeGreaterThan(0.99);
  });

  test('a Pad that fills with anything but 0, pads the channel axis, or has a second reader stays', () => {
    const pads = (values: number[]) => int64Tensor('pads', [8], values);
    const spatial = [0, 0, 1, 1, 0, 0, 1, 1];
    const cases: Array<[string, onnx.INodeProto[], onnx.ITensorProto[]]> = [
      [
        'fill 0.5',
        [node('Pad', ['r1', 'pads', 'fill'], ['p'], { mode: 'constant' })],
        [pads(spatial), floatTensor('fill', [], [0.5])],
      ],
      ['reflect', [node('Pad', ['r1', 'pads'], ['p'], { mode: 'reflect' })], [pads(spatial)]],
      ['channels', [node('Pad', ['r1', 'pads'], ['p'], { mode: 'constant' })], [pads([0, 1, 1, 1, 0, 0, 1, 1])]],
    ];
    for (const [what, between, inits] of cases) {
      const model = convPairAround(between, inits);
      expect([what, foldZeroPads(model).folded]).toEqual([what, 0]);
    }
    // zero spatial padding folds; the same Pad with a second reader does not
    const foldable = convPairAround([node('Pad', ['r1', 'pads'], ['p'], { mode: 'constant' })], [pads(spatial)]);
    expect(foldZeroPads(foldable).folded).toBe(1);
    const g = foldable.graph!;
    const shared = onnx.ModelProto.create({
      ...foldable,
      graph: { ...g, output: [...(g.output ?? []), valueInfo('p', ['n', 8, 'h', 'w'])] },
    });
    expect(foldZeroPads(shared).folded).toBe(0);
  });
});

describe('what the quantiser does not handle stays fp32 and is listed', () => {
  test('an LRN between convolutions and a Conv whose weight is a graph input: the rest is still quantised', async () => {
    const vgg = withInitializersAsInputs(vggLike({ seed: 4 }));
    const g = vgg.model.graph!;
    // An LRN after the first ReLU (AlexNet-style): an op convfeat has no integer form for.
    const firstRelu = (g.node ?? []).find((n) => n.opType === 'Relu')!;
    const relu = firstRelu.output![0]!;
    const nodes = (g.node ?? []).flatMap((n) => {
      const rewired = { ...n, input: (n.input ?? []).map((i) => (i === relu ? 'lrn_out' : i)) };
      return n === firstRelu ? [n, node('LRN', [relu], ['lrn_out'], { size: 3 }, 'lrn')] : [rewired];
    });
    // The second conv takes its weight as a runtime input instead of a constant: it cannot be quantised.
    const secondConv = nodes.filter((n) => n.opType === 'Conv')[1]!;
    const weightName = secondConv.input![1]!;
    const model = onnx.ModelProto.create({
      ...vgg.model,
      graph: { ...g, node: nodes, initializer: (g.initializer ?? []).filter((t) => t.name !== weightName) },
    });
    const ranges = Object.fromEntries(tensorsToCalibrate(model).map((t) => [t, [-4, 4] as const])) as RangeTable;
    const { model: q, report } = quantizeModel(model, { ranges });
    const kept = new Map(report.keptFp32.map((k) => [k.node, k]));
    expect(kept.get('lrn')).toEqual({
      node: 'lrn',
      opType: 'LRN',
      reason: 'convfeat quantises only Conv, Gemm and MatMul',
    });
    expect(kept.get(secondConv.name!)?.reason).toBe('its weight is not a constant initializer');
    expect(report.quantized.map((n) => n.opType)).toEqual(['Conv', 'Conv', 'Gemm', 'Gemm', 'Gemm']);
    // The unquantised conv still reads its fp32 weight input directly.
    const conv = (q.graph!.node ?? []).find((n) => n.name === secondConv.name)!;
    expect(conv.input![1]).toBe(weightName);
  });

  test('a Conv without a calibrated input range stays fp32 with that reason', () => {
    const tiny = resnetLike({ seed: 2 });
    const { report } = quantizeModel(tiny.model, { ranges: {} });
    expect(report.quantized).toEqual([]);
    expect(report.keptFp32.filter((k) => k.opType === 'Conv').map((k) => k.reason)[0]).toBe(
      'no calibrated range for its input input',
    );
  });
});

describe('quantisation arithmetic', () => {
  test('activation ranges always contain 0 exactly; a constant tensor gets scale 1', () => {
    expect(activationParams(0, 2.55)).toEqual({ scale: Math.fround(0.01), zeroPoint: 0 });
    const p = activationParams(-1, 1);
    expect(Math.abs(p.zeroPoint - 127.5)).toBe(0.5); // -1 and 1 sit one half-step either side of the middle
    expect(activationParams(2, 3).zeroPoint).toBe(0); // widened to [0, 3]
    expect(activationParams(0, 0)).toEqual({ scale: 1, zeroPoint: 0 });
  });

  test('weights are symmetric per output channel and round-trip within half a step', () => {
    const w = Float32Array.from([0.5, -1, 0.25, 0.1, 2, -0.4]);
    const { q, scales } = quantizeWeights(w, [2, 3], 0, true);
    expect([...scales]).toEqual([Math.fround(1 / 127), Math.fround(2 / 127)]);
    expect([...q]).toEqual([64, -127, 32, 6, 127, -25]);
    for (let i = 0; i < w.length; i++)
      expect(Math.abs(q[i]! * scales[Math.floor(i / 3)]! - w[i]!)).toBeLessThanOrEqual(scales[Math.floor(i / 3)]! / 2);
  });

  test('a percentile range clips rare outliers that min/max keeps', () => {
    const histogram = new Float64Array(8192);
    histogram[0] = 1; // one outlier at the bottom
    histogram[4096] = 1_000_000;
    histogram[8191] = 1; // one at the top
    const s = { min: -100, max: 100, count: 1_000_002, histogram };
    expect(rangeOf(s, { kind: 'minmax' })).toEqual([-100, 100]);
    const [lo, hi] = rangeOf(s, { kind: 'percentile', percentile: 99.99 });
    expect(lo).toBeCloseTo(0, 1);
    expect(hi).toBeCloseTo(200 / 8192, 3);
  });
});

test('each output channel of a quantised weight uses the full symmetric int8 range', () => {
  const tiny = resnetLike({ seed: 6 });
  const ranges = Object.fromEntries(tensorsToCalibrate(tiny.model).map((t) => [t, [-3, 3] as const])) as RangeTable;
  const { model } = quantizeModel(tiny.model, { ranges });
  const w = (model.graph!.initializer ?? []).find((t) => t.name === 'conv1.weight_int8')!;
  expect(w.dataType).toBe(ElemType.INT8);
  const q = new Int8Array(w.rawData!.buffer, w.rawData!.byteOffset, w.rawData!.length);
  expect(q.length).toBe(8 * 3 * 3 * 3);
  for (let c = 0; c < 8; c++) {
    const channel = q.subarray(c * 27, (c + 1) * 27);
    expect(Math.max(...[...channel].map(Math.abs))).toBe(127);
    expect(Math.min(...channel)).toBeGreaterThanOrEqual(-127);
  }
});

describe('calibration set and range tables', () => {
  test('the calibration set is the first photos of each class of the train split, in file-name order', () => {
    const item = (relPath: string, label: string, split?: 'train' | 'val') => ({
      path: `/d/${relPath}`,
      relPath,
      label,
      ...(split ? { split } : {}),
    });
    const items = [
      item('train/b/2.jpg', 'b', 'train'),
      item('val/a/0.jpg', 'a', 'val'),
      item('train/a/3.jpg', 'a', 'train'),
      item('train/a/1.jpg', 'a', 'train'),
      item('train/a/2.jpg', 'a', 'train'),
      item('train/b/1.jpg', 'b', 'train'),
    ];
    expect(pickCalibrationItems(items, 4).map((i) => i.relPath)).toEqual([
      'train/a/1.jpg',
      'train/a/2.jpg',
      'train/b/1.jpg',
      'train/b/2.jpg',
    ]);
    const unlabelled = [
      { path: '/d/z.jpg', relPath: 'z.jpg' },
      { path: '/d/y.jpg', relPath: 'y.jpg' },
    ];
    expect(pickCalibrationItems(unlabelled, 1).map((i) => i.relPath)).toEqual(['y.jpg']);
  });

  test('a damaged range table is refused with one sentence naming the tensor', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convfeat-ranges-'));
    const file = path.join(dir, 'm.int8.json');
    const table: RangeTableFile = {
      format: RANGE_TABLE_FORMAT,
      version: 1,
      model: 'm',
      fp32Fingerprint: '0123456789abcdef',
      layer: 'x',
      calibration: { images: 'test', count: 1, method: 'minmax' },
      weights: 'w',
      activations: 'a',
      ranges: { conv1: [0, 2.5], 'a/b': [-1.25, 3] },
    };
    writeRangeTable(file, table);
    expect(readRangeTable(file).ranges).toEqual(table.ranges);
    fs.writeFileSync(file, JSON.stringify({ ...table, ranges: { conv1: [3, 1] } }));
    expect(() => readRangeTable(file)).toThrow(/the range of conv1 is not \[min, max\] with min ≤ max; make it again/);
    expect(() => readRangeTable(path.join(dir, 'missing.json'))).toThrow(
      /does not exist; make it with `convfeat models quantize/,
    );
  });
});
