/**
 * Converter unit tests on tiny models: built with tfjs-layers (random weights, odd image sizes so TF's asymmetric
 * "same" padding shows), converted, and compared with tfjs-layers itself; plus a hand-written Keras 2 model.json
 * with known numbers, and the refusals.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { convertKerasModel } from '../../src/backbone/store/keras';
import { dimsOf, encodeModel, onnx } from '../../src/backbone/graph/proto';
import { tmpDir } from '../support/data';
import {
  maxAbsDiff,
  randomizeWeights,
  runTfjs,
  saveTfjsFolder,
  seededRandom,
  toNchw,
  writeTinyKerasModel,
} from './keras-fixtures';

async function runOnnx(
  model: onnx.ModelProto,
  nchw: Float32Array,
  dims: number[],
): Promise<{ embedding: ort.Tensor; probabilities: ort.Tensor }> {
  const session = await ort.InferenceSession.create(encodeModel(model));
  const out = await session.run({ input: new ort.Tensor('float32', nchw, dims) });
  return { embedding: out.embedding!, probabilities: out.probabilities! };
}

/** Saves, converts and runs a tfjs model on a seeded random batch; returns max |Δ| of both outputs. */
async function compare(
  model: tfl.LayersModel,
  embeddingLayer: string,
  hwc: [number, number, number],
): Promise<{ embedding: number; final: number; onnxModel: onnx.ModelProto }> {
  randomizeWeights(model, 7);
  const dir = tmpDir('keras');
  await saveTfjsFolder(model, dir);
  const onnxModel = convertKerasModel(dir, { embeddingLayer });
  const shape: [number, number, number, number] = [2, ...hwc];
  const rand = seededRandom(11);
  const nhwc = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => 2 * rand());
  const [tfEmbedding, tfFinal] = runTfjs(model, embeddingLayer, nhwc, shape);
  const out = await runOnnx(onnxModel, toNchw(nhwc, shape), [shape[0], shape[3], shape[1], shape[2]]);
  fs.rmSync(dir, { recursive: true, force: true });
  // Compare in Keras's own layout: a rank-3 embedding comes out of ONNX as NCHW.
  let embedding = out.embedding.data as Float32Array;
  if (out.embedding.dims.length === 4) {
    const [n, c, h, w] = out.embedding.dims as number[];
    const nhwcEmb = new Float32Array(embedding.length);
    for (let b = 0; b < n!; b++)
      for (let k = 0; k < c!; k++)
        for (let i = 0; i < h! * w!; i++) nhwcEmb[(b * h! * w! + i) * c! + k] = embedding[(b * c! + k) * h! * w! + i]!;
    embedding = nhwcEmb;
  }
  return {
    embedding: maxAbsDiff(embedding, tfEmbedding),
    final: maxAbsDiff(out.probabilities.data as Float32Array, tfFinal),
    onnxModel,
  };
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('TF.js layers → ONNX converter against tfjs-layers', () => {
  test('conv same/valid with stride 2 on odd sizes, dilation, batch norm, zero padding, max pool, Flatten → Dense', async () => {
    const input = tfl.input({ shape: [17, 15, 3], name: 'image' });
    let x = tfl.layers
      .conv2d({ name: 'c_same_s2', filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu6' })
      .apply(input) as tfl.SymbolicTensor;
    x = tfl.layers.batchNormalization({ name: 'bn', epsilon: 0.01 }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers
      .zeroPadding2d({
        name: 'zp',
        padding: [
          [1, 0],
          [2, 1],
        ],
      })
      .apply(x) as tfl.SymbolicTensor;
    x = tfl.layers
      .conv2d({
        name: 'c_valid_s2',
        filters: 6,
        kernelSize: [3, 2],
        strides: 2,
        padding: 'valid',
        useBias: false,
        activation: 'elu',
      })
      .apply(x) as tfl.SymbolicTensor;
    x = tfl.layers
      .conv2d({ name: 'c_dilated', filters: 5, kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'tanh' })
      .apply(x) as tfl.SymbolicTensor;
    x = tfl.layers
      .maxPooling2d({ name: 'pool', poolSize: 3, strides: 2, padding: 'same' })
      .apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.flatten({ name: 'flatten' }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.dense({ name: 'fc1', units: 7, activation: 'relu' }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.dropout({ name: 'drop', rate: 0.5 }).apply(x) as tfl.SymbolicTensor;
    const out = tfl.layers
      .dense({ name: 'predictions', units: 5, activation: 'softmax' })
      .apply(x) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: out, name: 'convs' });

    const result = await compare(model, 'flatten', [17, 15, 3]);
    expect(result.embedding).toBeLessThanOrEqual(1e-5);
    expect(result.final).toBeLessThanOrEqual(1e-5);
    const graph = result.onnxModel.graph!;
    expect(dimsOf(graph.input![0]!)).toEqual(['batch', 3, 17, 15]);
    expect(dimsOf(graph.output![0]!)).toEqual(['batch', 30]); // pool output 2×3×5, flattened
    // 17 → 9 with a 3×3 window at stride 2 needs 2 rows of padding in total: TF puts 1 on top, 1 at the bottom;
    // 15 → 8 needs 2 columns as well. The dilated conv (effective 5×5) on 4×5 needs 4: 2 before, 2 after.
    const conv = graph.node!.find((n) => n.name === 'c_same_s2_conv')!;
    expect(conv.attribute!.find((a) => a.name === 'pads')!.ints!.map(Number)).toEqual([1, 1, 1, 1]);
  });

  test('asymmetric SAME padding (even input, stride 2) puts the extra row and column at the end', async () => {
    const input = tfl.input({ shape: [8, 6, 2], name: 'image' });
    const c = tfl.layers
      .conv2d({ name: 'conv', filters: 3, kernelSize: 3, strides: 2, padding: 'same' })
      .apply(input) as tfl.SymbolicTensor;
    const f = tfl.layers.flatten({ name: 'flat' }).apply(c) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: f });
    const result = await compare(model, 'conv', [8, 6, 2]);
    expect(result.embedding).toBeLessThanOrEqual(1e-5);
    const conv = result.onnxModel.graph!.node!.find((n) => n.opType === 'Conv')!;
    expect(conv.attribute!.find((a) => a.name === 'pads')!.ints!.map(Number)).toEqual([0, 0, 1, 1]);
  });

  test('depthwise and separable convs, average pooling over padding, Add/Multiply/Concatenate, global pooling', async () => {
    const input = tfl.input({ shape: [16, 16, 3], name: 'image' });
    let x = tfl.layers
      .depthwiseConv2d({
        name: 'dw',
        kernelSize: 3,
        strides: 2,
        padding: 'same',
        depthMultiplier: 2,
        activation: 'relu',
      })
      .apply(input) as tfl.SymbolicTensor;
    x = tfl.layers.batchNormalization({ name: 'bn', center: false }).apply(x) as tfl.SymbolicTensor;
    const avg = tfl.layers
      .averagePooling2d({ name: 'avg', poolSize: 3, strides: 2, padding: 'same' })
      .apply(x) as tfl.SymbolicTensor;
    const sep = tfl.layers
      .separableConv2d({ name: 'sep', filters: 6, kernelSize: 3, padding: 'same', activation: 'sigmoid' })
      .apply(avg) as tfl.SymbolicTensor;
    const sum = tfl.layers.add({ name: 'sum' }).apply([avg, sep]) as tfl.SymbolicTensor;
    const prod = tfl.layers.multiply({ name: 'prod' }).apply([sum, sep]) as tfl.SymbolicTensor;
    const cat = tfl.layers.concatenate({ name: 'cat' }).apply([sum, prod]) as tfl.SymbolicTensor;
    const gap = tfl.layers
      .globalAveragePooling2d({ name: 'gap' })
      .apply(
        tfl.layers.conv2d({ name: 'pw', filters: 4, kernelSize: 1 }).apply(cat) as tfl.SymbolicTensor,
      ) as tfl.SymbolicTensor;
    const gmp = tfl.layers.globalMaxPooling2d({ name: 'gmp' }).apply(cat) as tfl.SymbolicTensor;
    const features = tfl.layers.concatenate({ name: 'features' }).apply([gap, gmp]) as tfl.SymbolicTensor;
    const out = tfl.layers
      .dense({ name: 'predictions', units: 4, activation: 'softmax' })
      .apply(features) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: out });

    const result = await compare(model, 'features', [16, 16, 3]);
    expect(result.embedding).toBeLessThanOrEqual(1e-5);
    expect(result.final).toBeLessThanOrEqual(1e-5);
    expect(dimsOf(result.onnxModel.graph!.output![0]!)).toEqual(['batch', 16]);
  });

  test('a Sequential model with LeakyReLU, Cropping2D, Reshape and a Softmax layer', async () => {
    const model = tfl.sequential({
      layers: [
        tfl.layers.conv2d({ name: 'conv', inputShape: [9, 9, 2], filters: 3, kernelSize: 3, padding: 'same' }),
        tfl.layers.leakyReLU({ name: 'leaky', alpha: 0.1 }),
        tfl.layers.cropping2D({
          name: 'crop',
          cropping: [
            [1, 0],
            [0, 2],
          ],
        }),
        tfl.layers.reshape({ name: 'reshape', targetShape: [8 * 7 * 3] }),
        tfl.layers.dense({ name: 'logits', units: 3 }),
        tfl.layers.softmax({ name: 'softmax' }),
      ],
    });
    const result = await compare(model, 'reshape', [9, 9, 2]);
    expect(result.embedding).toBeLessThanOrEqual(1e-5);
    expect(result.final).toBeLessThanOrEqual(1e-5);
  });
});

describe('TF.js layers → ONNX converter on a hand-written Keras 2 model.json', () => {
  test('known weights give known numbers; the graph has a dynamic batch, NCHW input and metadata', async () => {
    const dir = tmpDir('keras-tiny');
    writeTinyKerasModel(dir);
    const model = convertKerasModel(dir, { embeddingLayer: 'avg_pool', metadata: { 'convfeat.model': 'tiny' } });
    const graph = model.graph!;
    expect(dimsOf(graph.input![0]!)).toEqual(['batch', 3, 4, 4]);
    expect(graph.output!.map((o) => o.name)).toEqual(['embedding', 'probabilities']);
    const meta = Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]));
    expect(meta).toMatchObject({
      'convfeat.embedding_layer': 'avg_pool',
      'convfeat.model': 'tiny',
      'convfeat.source_format': 'tfjs-layers',
    });

    // Channel planes: R = -1 everywhere, G = 2 everywhere (conv: out0 = relu(R), out1 = relu(G + 0.5)).
    const x = new Float32Array(3 * 16);
    x.fill(-1, 0, 16);
    x.fill(2, 16, 32);
    const out = await runOnnx(model, Float32Array.from([...x, ...x]), [2, 3, 4, 4]);
    expect(out.embedding.dims).toEqual([2, 2]);
    expect(Array.from(out.embedding.data as Float32Array)).toEqual([0, 2.5, 0, 2.5]);
    const logits = [0, 2.5, 2.5]; // fc kernel rows [1, 0, -1] and [0, 1, 1]
    const z = logits.map(Math.exp).reduce((a, b) => a + b, 0);
    const probs = Array.from(out.probabilities.data as Float32Array).slice(0, 3);
    probs.forEach((p, i) => expect(p).toBeCloseTo(Math.exp(logits[i]!) / z, 6));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function editModelJson(edit: (json: any) => void): string {
    const dir = tmpDir('keras-bad');
    writeTinyKerasModel(dir);
    const file = path.join(dir, 'model.json');
    const json = JSON.parse(fs.readFileSync(file, 'utf8'));
    edit(json);
    fs.writeFileSync(file, JSON.stringify(json));
    return dir;
  }

  test('an unknown layer type is one sentence naming the layer and its class', () => {
    const dir = editModelJson((j) => {
      j.modelTopology.model_config.config.layers[1].class_name = 'UpSampling2D';
    });
    expect(() => convertKerasModel(dir, { embeddingLayer: 'avg_pool' })).toThrow(
      /^Layer conv \(UpSampling2D\) cannot be converted/,
    );
  });

  test('non-float32 weights, truncated shards, a missing embedding layer and a missing folder are refused clearly', () => {
    const f16 = editModelJson((j) => {
      j.weightsManifest[0].weights[0].dtype = 'float16';
    });
    expect(() => convertKerasModel(f16, { embeddingLayer: 'avg_pool' })).toThrow(
      /Weight conv\/kernel .* is float16; only float32/,
    );

    const quantized = editModelJson((j) => {
      j.weightsManifest[0].weights[2].quantization = { dtype: 'uint8', scale: 1, min: 0 };
    });
    expect(() => convertKerasModel(quantized, { embeddingLayer: 'avg_pool' })).toThrow(/fc\/kernel .* is quantized/);

    const truncated = tmpDir('keras-trunc');
    writeTinyKerasModel(truncated);
    const shard = path.join(truncated, 'group1-shard1of1.bin');
    fs.writeFileSync(shard, fs.readFileSync(shard).subarray(0, 20));
    expect(() => convertKerasModel(truncated, { embeddingLayer: 'avg_pool' })).toThrow(/the shards are truncated/);

    const ok = tmpDir('keras-ok');
    writeTinyKerasModel(ok);
    expect(() => convertKerasModel(ok, { embeddingLayer: 'fc2' })).toThrow(/Embedding layer fc2 does not exist/);
    expect(() => convertKerasModel(path.join(ok, 'nope'), { embeddingLayer: 'avg_pool' })).toThrow(
      /model\.json|does not exist/,
    );
    expect(() => convertKerasModel(ok, { embeddingLayer: '' })).toThrow(
      /Expected opts\.embeddingLayer to be a non-empty string/,
    );
  });
});
