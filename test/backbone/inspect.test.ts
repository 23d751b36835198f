import * as fs from 'fs';
import * as path from 'path';
import { cutAtEmbedding } from '../../src/backbone/graph/cut';
import { formatModelInfo, inspectModel, inspectModelBytes } from '../../src/backbone/graph/inspect';
import { encodeModel, saveModel } from '../../src/backbone/graph/proto';
import { ConvfeatError } from '../../src/util/errors';
import { tmpDir } from '../support/data';
import {
  convOnlyClassifier,
  resnetLike,
  RESNET_EMBEDDING_DIM,
  tabularMlp,
  vggLike,
  VGG_FC7_DIM,
  withEmbeddingOutput,
} from '../support/graphs';
import { testWithPeer } from '../support/peers';

describe('inspectModel', () => {
  let dir: string;
  beforeAll(() => {
    dir = tmpDir('inspect');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a vgg16-shaped export: inputs, outputs, sizes, and fc7 as the default embedding', () => {
    const graph = vggLike();
    const file = path.join(dir, 'vgg16.onnx');
    fs.writeFileSync(file, graph.bytes);
    const info = inspectModel(file);
    expect(info).toMatchObject({
      file: 'vgg16.onnx',
      sizeBytes: graph.bytes.length,
      producer: 'pytorch',
      opset: 13,
      irVersion: 8,
      inputs: [{ name: 'input', dims: ['batch_size', 3, 16, 16], type: 'float' }],
      outputs: [{ name: 'output', dims: ['batch_size', 10], type: 'float' }],
      layout: 'NCHW',
      nodeCount: graph.model.graph!.node!.length,
      // conv 3→4, 4→4, 4→8 (3×3 + bias), fc6 128→32, fc7 32→24, fc8 24→10
      parameterCount: 112 + 148 + 296 + 4128 + 792 + 250,
      embedding: {
        tensor: graph.expected.tensor,
        layer: graph.expected.node,
        dim: VGG_FC7_DIM,
        shape: ['batch_size', VGG_FC7_DIM],
      },
      embeddingProblem: null,
      alreadyCut: false,
    });
    expect(info.candidates.map((c) => c.dim)).toEqual([128, 32, 24]);
    expect(JSON.parse(JSON.stringify(info))).toEqual(info);
  });

  test('a cut model says so and still names the layer of the classifier it came from', () => {
    const graph = vggLike({ dropout: true });
    const file = path.join(dir, 'vgg16-cut.onnx');
    saveModel(file, cutAtEmbedding(graph.model).model);
    const info = inspectModel(file);
    expect(info.alreadyCut).toBe(true);
    expect(info.outputs).toEqual([{ name: 'embedding', dims: ['batch_size', VGG_FC7_DIM], type: 'float' }]);
    expect(info.embedding).toMatchObject({
      tensor: graph.expected.tensor,
      layer: graph.expected.node,
      dim: VGG_FC7_DIM,
    });
    expect(info.metadata['convfeat.embedding_tensor']).toBe(graph.expected.tensor);
    expect(info.parameterCount).toBeLessThan(inspectModelBytes(graph.bytes).parameterCount);
  });

  test('a converted model with `embedding` and `probabilities` outputs reports the embedding it names, uncut', () => {
    const graph = withEmbeddingOutput(resnetLike());
    const info = inspectModelBytes(graph.bytes, 'resnet50.onnx');
    expect(info.alreadyCut).toBe(false);
    expect(info.outputs.map((o) => o.name)).toEqual(['embedding', 'probabilities']);
    expect(info.embedding).toEqual({
      tensor: graph.expected.tensor,
      layer: graph.expected.node,
      dim: RESNET_EMBEDDING_DIM,
      shape: ['batch_size', RESNET_EMBEDDING_DIM],
    });
  });

  test('without a fully connected layer there is no default, and the reason is given', () => {
    const info = inspectModelBytes(encodeModel(convOnlyClassifier()), 'squeeze.onnx');
    expect(info.embedding).toBeNull();
    expect(info.embeddingProblem).toMatch(/^squeeze\.onnx has no fully connected layer/);
    expect(info.candidates.length).toBeGreaterThan(0);
    expect(formatModelInfo(info)).toContain('Embedding   none by default: squeeze.onnx has no fully connected layer');
  });

  test('a non-image model and a missing file are one sentence each', () => {
    expect(() => inspectModelBytes(encodeModel(tabularMlp()), 'mlp.onnx')).toThrow(
      /^mlp\.onnx has no 4-D float image input/,
    );
    expect(() => inspectModel(path.join(dir, 'nope.onnx'))).toThrow(ConvfeatError);
    expect(() => inspectModel(path.join(dir, 'nope.onnx'))).toThrow(/nope\.onnx does not exist/);
  });
});

/** Written by `convfeat models fetch resnet50` (git-ignored; the jest global setup makes it): required in CI. */
const REAL_RESNET50 = path.resolve(__dirname, '..', '..', 'onnx', 'resnet50.onnx');

describe('the real converted ResNet50', () => {
  testWithPeer(
    'the real ResNet50',
    fs.existsSync(REAL_RESNET50),
    `${REAL_RESNET50} is missing; the jest global setup fetches it`,
  )('reports a 2048-d avg_pool embedding with the batch axis named', () => {
    const info = inspectModel(REAL_RESNET50);
    expect(info.inputs).toEqual([{ name: 'input', dims: ['batch', 3, 224, 224], type: 'float' }]);
    expect(info.embedding).toMatchObject({ dim: 2048, shape: ['batch', 2048] });
    expect(info.parameterCount).toBe(25_636_712);
    expect(info.alreadyCut).toBe(false);
  });
});

describe('formatModelInfo', () => {
  test('prints the model facts and a candidate table with the default marked', () => {
    const graph = vggLike();
    const text = formatModelInfo(inspectModelBytes(graph.bytes, 'vgg16.onnx'));
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^Model {7}vgg16\.onnx \(0\.0 MB, pytorch, opset 13, IR 8\)$/);
    expect(lines).toContain('Graph       15 nodes, 5,726 parameters');
    expect(lines).toContain('Input       input [batch_size, 3, 16, 16] float (NCHW)');
    expect(lines).toContain('Output      output [batch_size, 10] float');
    expect(lines).toContain(
      'Embedding   /classifier/classifier.4/Relu_output_0 (24-d), from /classifier/classifier.4/Relu',
    );
    const table = lines.slice(lines.indexOf('Candidate embedding layers (* = default; pass another with layer):') + 1);
    expect(table[0]).toMatch(/^ {5}tensor +op +shape +dim +read by$/);
    expect(table).toHaveLength(4);
    expect(table[3]).toMatch(
      /^ {2}\*  \/classifier\/classifier\.4\/Relu_output_0 +Relu +\[batch_size, 24\] +24 +\/classifier\/classifier\.6\/Gemm$/,
    );
    expect(table[1]).toMatch(
      /^ {5}\/Flatten_output_0 +Flatten +\[batch_size, 128\] +128 +\/classifier\/classifier\.0\/Gemm$/,
    );
  });
});
