import * as fs from 'fs';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { cutAtEmbedding, EMBEDDING_OUTPUT, findEmbeddingCandidates } from '../../src/backbone/graph/cut';
import { modelFingerprint } from '../../src/backbone/graph/fingerprint';
import { decodeModel, dimsOf, encodeModel, loadModel, onnx } from '../../src/backbone/graph/proto';
import { ConvfeatError, UsageError } from '../../src/util/errors';
import {
  convOnlyClassifier,
  IMAGE_SIZE,
  randomImages,
  resnetLike,
  RESNET_EMBEDDING_DIM,
  tabularMlp,
  TinyGraph,
  vggLike,
  VGG_FC6_DIM,
  VGG_FC7_DIM,
  withEmbeddingOutput,
  withExtraOutput,
  withInitializersAsInputs,
} from '../support/graphs';
import { tmpDir } from '../support/data';
import { flagFor } from '../../src/commands/flags';
import { useParamNames } from '../../src/util/params';

afterEach(() => useParamNames());

const PIXELS = 3 * IMAGE_SIZE * IMAGE_SIZE;

async function run(
  bytes: Uint8Array,
  input: string,
  images: Float32Array,
  n: number,
  output: string,
): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const result = await session.run({ [input]: new ort.Tensor('float32', images, [n, 3, IMAGE_SIZE, IMAGE_SIZE]) }, [
      output,
    ]);
    const t = result[output]!;
    return { data: t.data as Float32Array, dims: t.dims };
  } finally {
    await session.release();
  }
}

/** The intermediate tensor computed by the uncut model, one image at a time (works for fixed-batch exports too). */
async function reference(graph: TinyGraph, tensor: string, images: Float32Array, n: number): Promise<Float32Array> {
  const bytes = withExtraOutput(graph.model, tensor);
  const rows: Float32Array[] = [];
  for (let i = 0; i < n; i++)
    rows.push((await run(bytes, graph.input, images.slice(i * PIXELS, (i + 1) * PIXELS), 1, tensor)).data);
  const out = new Float32Array(rows.reduce((a, r) => a + r.length, 0));
  let at = 0;
  for (const r of rows) {
    out.set(r, at);
    at += r.length;
  }
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

function spread(a: Float32Array): number {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of a) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return hi - lo;
}

/** Cuts, then checks the cut model against the uncut model's intermediate tensor for batch sizes 1 and 4. */
async function expectFaithfulCut(
  graph: TinyGraph,
  tensor: string,
  dim: number,
  layer?: string,
): Promise<onnx.ModelProto> {
  const { model, embedding } = cutAtEmbedding(graph.model, { layer, source: 'tiny.onnx' });
  expect(embedding.dim).toBe(dim);
  const outputs = model.graph!.output!;
  expect(outputs.map((o) => o.name)).toEqual([EMBEDDING_OUTPUT]);
  const outDims = dimsOf(outputs[0]!);
  expect(outDims).toHaveLength(2);
  expect(typeof outDims[0]).toBe('string');
  expect(outDims[1]).toBe(dim);
  expect(typeof dimsOf(model.graph!.input![0]!)[0]).toBe('string');
  const bytes = encodeModel(model);
  const images = randomImages(4);
  const expected = await reference(graph, tensor, images, 4);
  expect(spread(expected)).toBeGreaterThan(0.01);
  const four = await run(bytes, graph.input, images, 4, EMBEDDING_OUTPUT);
  expect(four.dims).toEqual([4, dim]);
  expect(maxAbsDiff(four.data, expected)).toBeLessThanOrEqual(1e-5);
  const one = await run(bytes, graph.input, images.slice(0, PIXELS), 1, EMBEDDING_OUTPUT);
  expect(one.dims).toEqual([1, dim]);
  expect(maxAbsDiff(one.data, expected.slice(0, dim))).toBeLessThanOrEqual(1e-5);
  return model;
}

describe('default cut on torch.onnx.export-shaped graphs', () => {
  const variants: Array<[string, () => TinyGraph]> = [
    ['resnet18: GlobalAveragePool → Flatten → Gemm', () => resnetLike()],
    ['resnet18 with a fixed batch of 1', () => resnetLike({ fixedBatch: true })],
    ['resnet18 with unfolded BatchNormalization', () => resnetLike({ batchNorm: true })],
    ['resnet18 with a MatMul + Add head', () => resnetLike({ head: 'matmul' })],
    ['resnet18 with Reshape [-1, C]', () => resnetLike({ flatten: 'reshape' })],
    ['resnet18 with a fixed-batch Reshape [1, -1]', () => resnetLike({ flatten: 'reshape-fixed', fixedBatch: true })],
    ['resnet18 with Shape/Gather/Concat → Reshape', () => resnetLike({ flatten: 'reshape-dynamic' })],
    ['resnet18 with a trailing Softmax', () => resnetLike({ softmax: true })],
    ['Keras-style: Pad before the stem conv, ReduceMean pooling', () => resnetLike({ kerasStyle: true })],
    ['vgg16: fc7 after its ReLU', () => vggLike()],
    ['vgg16 with Dropout', () => vggLike({ dropout: true })],
    ['vgg16_bn with Dropout', () => vggLike({ batchNorm: true, dropout: true })],
    ['vgg16 with MatMul + Add heads', () => vggLike({ head: 'matmul', dropout: true })],
    [
      'vgg16 without AveragePool, Reshape, fixed batch, Softmax',
      () => vggLike({ avgpool: false, flatten: 'reshape', fixedBatch: true, softmax: true }),
    ],
  ];
  test.each(variants)('%s', async (_name, build) => {
    const graph = build();
    const model = await expectFaithfulCut(graph, graph.expected.tensor, graph.expected.dim);
    const { embedding } = cutAtEmbedding(graph.model);
    expect(embedding).toEqual({ tensor: graph.expected.tensor, dim: graph.expected.dim, layer: graph.expected.node });
    // The classifier is gone: no node reads the last layer's weights any more and they are not stored.
    const names = new Set(model.graph!.initializer!.map((t) => t.name));
    expect([...names].some((n) => /^(fc|classifier\.6)\./.test(n as string))).toBe(false);
    expect(model.graph!.node!.some((n) => n.opType === 'Softmax')).toBe(false);
    const classifier = graph.model.graph!.node!.find((n) => n.output!.includes('output'))!;
    expect(model.graph!.node!.map((n) => n.name)).not.toContain(classifier.name);
  });

  test('weights listed as graph inputs (IR 3, keep_initializers_as_inputs) are not mistaken for inputs', async () => {
    const graph = withInitializersAsInputs(vggLike({ dropout: true }));
    expect(graph.model.graph!.input!.length).toBeGreaterThan(10);
    const model = await expectFaithfulCut(graph, graph.expected.tensor, graph.expected.dim);
    expect(model.graph!.input!.map((v) => v.name)).toEqual(['input']);
  });

  test('a model that names an `embedding` output beside `probabilities` (convfeat’s Keras converter) is cut there', async () => {
    const graph = withEmbeddingOutput(resnetLike());
    const model = await expectFaithfulCut(graph, graph.expected.tensor, RESNET_EMBEDDING_DIM);
    expect(cutAtEmbedding(graph.model).embedding).toEqual({
      tensor: graph.expected.tensor,
      dim: RESNET_EMBEDDING_DIM,
      layer: graph.expected.node,
    });
    expect(model.graph!.node!.some((n) => n.opType === 'Softmax' || n.opType === 'Gemm')).toBe(false);
  });

  test('a fixed-batch Reshape target [1, -1] is rewritten to copy the batch axis', () => {
    const { model } = cutAtEmbedding(resnetLike({ flatten: 'reshape-fixed', fixedBatch: true }).model);
    const reshape = model.graph!.node!.find((n) => n.opType === 'Reshape')!;
    expect(reshape.input![1]).toBe('onnx::Reshape_fixed_dynamic_batch');
    expect(model.graph!.initializer!.some((t) => t.name === 'onnx::Reshape_fixed')).toBe(false);
  });

  test('cutting a cut model changes nothing, byte for byte, and keeps the original layer name', () => {
    const graph = vggLike({ dropout: true });
    const first = cutAtEmbedding(graph.model);
    const again = cutAtEmbedding(decodeModel(encodeModel(first.model), 'cut.onnx'));
    expect(Buffer.from(encodeModel(again.model)).equals(Buffer.from(encodeModel(first.model)))).toBe(true);
    expect(again.embedding).toEqual(first.embedding);
  });
});

describe('--layer', () => {
  test('a node name takes that node’s output (vgg16 fc6 after its ReLU)', async () => {
    const graph = vggLike({ dropout: true });
    await expectFaithfulCut(
      graph,
      '/classifier/classifier.1/Relu_output_0',
      VGG_FC6_DIM,
      '/classifier/classifier.1/Relu',
    );
  });

  test('a 4-D pooled tensor name is flattened to [batch, C]', async () => {
    const graph = resnetLike();
    const model = await expectFaithfulCut(
      graph,
      '/avgpool/GlobalAveragePool_output_0',
      RESNET_EMBEDDING_DIM,
      '/avgpool/GlobalAveragePool_output_0',
    );
    expect(model.graph!.node!.at(-1)!.opType).toBe('Flatten');
  });

  test('a conv feature map is flattened to C·H·W features', async () => {
    const graph = resnetLike();
    await expectFaithfulCut(graph, '/layer2/layer2.0/relu_1/Relu_output_0', 16 * 2 * 2, '/layer2/layer2.0/relu_1/Relu');
  });

  test('a name that is not in the graph is a usage error listing candidates', () => {
    const graph = vggLike();
    let error: unknown;
    try {
      cutAtEmbedding(graph.model, { layer: 'fc7', source: 'vgg16.onnx' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).exitCode).toBe(2);
    expect((error as Error).message).toMatch(/^Expected layer to be a node or tensor name of vgg16\.onnx/);
    expect((error as Error).message).toContain('"/classifier/classifier.4/Relu_output_0" (24-d)');
    expect((error as Error).message).toMatch(/but received "fc7"$/);
  });

  test('the image input and a weight are refused', () => {
    const graph = vggLike();
    expect(() => cutAtEmbedding(graph.model, { layer: 'input' })).toThrow(/is the input of the model, not a layer/);
    expect(() => cutAtEmbedding(graph.model, { layer: 'classifier.3.weight' })).toThrow(/is a weight of the model/);
    expect(() => cutAtEmbedding(graph.model, { layer: '' })).toThrow(
      /Expected layer to be a non-empty string but received ""/,
    );
  });
});

describe('models convfeat cannot cut', () => {
  test('a model without a 4-D image input is refused with one sentence', () => {
    expect(() => cutAtEmbedding(tabularMlp(), { source: 'mlp.onnx' })).toThrow(
      'mlp.onnx has no 4-D float image input (it takes features [batch_size, 10] float); convfeat needs an image model whose input is [batch, 3, height, width] float32.',
    );
    expect(() => cutAtEmbedding(tabularMlp())).toThrow(ConvfeatError);
  });

  test('a classifier without a fully connected layer asks for --layer, and --layer then works', async () => {
    const model = convOnlyClassifier();
    expect(() => cutAtEmbedding(model, { source: 'squeeze.onnx' })).toThrow(
      /^squeeze\.onnx has no fully connected layer .* on the path to its output output; pass layer with one of: .*"\/classifier\/classifier\.3\/GlobalAveragePool_output_0" \(10-d\)/,
    );
    // The CLI names its flag in the same sentence.
    useParamNames(flagFor);
    expect(() => cutAtEmbedding(model, { source: 'squeeze.onnx' })).toThrow(/; pass --layer with one of: /);
    useParamNames();
    const { model: cut, embedding } = cutAtEmbedding(model, { layer: '/features/features.1/Relu' });
    expect(embedding.dim).toBe(8 * 8 * 8);
    const out = await run(encodeModel(cut), 'input', randomImages(2), 2, EMBEDDING_OUTPUT);
    expect(out.dims).toEqual([2, 512]);
  });

  test('a truncated model file and a file that is not ONNX surface loadModel’s sentence', () => {
    const dir = tmpDir('cut');
    const bytes = resnetLike().bytes;
    const truncated = path.join(dir, 'truncated.onnx');
    fs.writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    expect(() => loadModel(truncated)).toThrow(
      /truncated\.onnx is not a readable ONNX model \(.*\); the file may be truncated or not ONNX/,
    );
    const text = path.join(dir, 'labels.onnx');
    fs.writeFileSync(text, '{"0": "tench", "1": "goldfish"}\n');
    expect(() => loadModel(text)).toThrow(ConvfeatError);
    expect(() => loadModel(text)).toThrow(/labels\.onnx is not/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('findEmbeddingCandidates', () => {
  test('vgg16 lists the flattened features, fc6 and fc7 with their widths and the layer each feeds', () => {
    const candidates = findEmbeddingCandidates(vggLike({ dropout: true }).model);
    const summary = candidates.map((c) => [c.tensor, c.op, c.dim, c.feeds, c.isDefault]);
    expect(summary).toEqual([
      ['/Flatten_output_0', 'Flatten', 128, '/classifier/classifier.0/Gemm', false],
      ['/classifier/classifier.1/Relu_output_0', 'Relu', VGG_FC6_DIM, '/classifier/classifier.3/Gemm', false],
      ['/classifier/classifier.4/Relu_output_0', 'Relu', VGG_FC7_DIM, '/classifier/classifier.6/Gemm', true],
    ]);
    expect(candidates[2]!.shape).toEqual(['batch_size', VGG_FC7_DIM]);
  });

  test('resnet18 lists the pooled 4-D tensor and the flattened vector; the default is the vector', () => {
    const candidates = findEmbeddingCandidates(resnetLike({ head: 'matmul' }).model);
    expect(candidates.map((c) => [c.tensor, c.shape, c.dim, c.isDefault])).toEqual([
      ['/avgpool/GlobalAveragePool_output_0', ['batch_size', 16, 1, 1], 16, false],
      ['/Flatten_output_0', ['batch_size', 16], 16, true],
    ]);
  });

  test('shapes flow through an explicit Pad and a ReduceMean pooling with the batch name intact', () => {
    const candidates = findEmbeddingCandidates(resnetLike({ kerasStyle: true }).model);
    expect(candidates.map((c) => [c.tensor, c.op, c.shape, c.isDefault])).toEqual([
      ['/avgpool/ReduceMean_output_0', 'ReduceMean', ['batch_size', 16], false],
      ['/Flatten_output_0', 'Flatten', ['batch_size', 16], true],
    ]);
  });
});

describe('modelFingerprint', () => {
  test('ties a backbone to its cut: stable across re-cuts, different per layer, 16 hex digits', () => {
    const graph = vggLike();
    const fc7 = encodeModel(cutAtEmbedding(graph.model).model);
    const fc7Again = encodeModel(cutAtEmbedding(decodeModel(graph.bytes, 'vgg.onnx')).model);
    const fc6 = encodeModel(cutAtEmbedding(graph.model, { layer: '/classifier/classifier.1/Relu' }).model);
    expect(modelFingerprint(fc7)).toMatch(/^[0-9a-f]{16}$/);
    expect(modelFingerprint(fc7Again)).toBe(modelFingerprint(fc7));
    expect(modelFingerprint(fc6)).not.toBe(modelFingerprint(fc7));
    expect(() => modelFingerprint(new Uint8Array(0))).toThrow(/^Expected the cut model to be non-empty ONNX bytes/);
  });
});
