/**
 * The fused export keeps only what the backbone's `embedding` depends on, with the head cutter's own pruning
 * (backbone/graph/cut.ts). The backbone part of the fused graph (nodes, weights, value_info under `backbone/`) must be
 * the one the export wrote before it reused the cutter: its sha256 was recorded from that implementation, on a tiny
 * graph with every case the pruning decides (a dead head, a dead branch with its own weight, an If whose branch reads
 * an outer tensor, an omitted optional input, value_info of kept and dropped tensors) and on the real ResNet50.
 */
import { createHash } from 'crypto';
import { floatTensor, loadModel, makeModel, node, onnx, valueInfo } from '../../src/backbone/graph/proto';
import { LinearClassifier, toEmbeddings } from '../../src/linear';
import { TORCHVISION_IMAGENET, type PreprocessSpec } from '../../src/preprocess';
import { resolveModel } from '../../src/backbone/store/manifest';
import { buildFusedModel } from '../../src/deploy/fusedExport';
import { seededRandom } from '../support/graphs';
import { realResnet50 } from '../support/model';

const SIZE = 8;
const D = 4;
const CLASSES = ['a', 'b', 'c'];

function tinyBackbone(): onnx.ModelProto {
  const rand = seededRandom(5);
  const t = (name: string, dims: number[]) =>
    floatTensor(
      name,
      dims,
      Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rand() - 0.5),
    );
  const branch = (name: string, op: string): onnx.IGraphProto => ({
    name,
    node: [node(op, ['pool'], [`${name}_out`])],
    output: [valueInfo(`${name}_out`, ['batch', D, 1, 1])],
  });
  const nodes: onnx.INodeProto[] = [
    node('Conv', ['input', 'conv.weight', ''], ['conv'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
    node('Relu', ['conv'], ['relu']),
    node('GlobalAveragePool', ['relu'], ['pool']),
    node('ReduceMean', ['relu'], ['mean'], { axes: [1, 2, 3], keepdims: 0 }),
    node('Greater', ['mean', 'zero'], ['positive']),
    // The branches read `pool` from the enclosing graph: pruning must keep its producer.
    {
      opType: 'If',
      name: 'choose',
      input: ['positive'],
      output: ['chosen'],
      attribute: [
        { name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: branch('then', 'Identity') },
        { name: 'else_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: branch('else', 'Neg') },
      ],
    },
    node('Flatten', ['chosen'], ['embedding'], { axis: 1 }),
    // Dead: a head after the embedding and a branch nothing reads.
    node('MatMul', ['embedding', 'fc.weight'], ['logits']),
    node('Mul', ['relu', 'unused.scale'], ['unused']),
  ];
  return makeModel({
    name: 'tiny-prune',
    nodes,
    inputs: [valueInfo('input', ['batch', 3, SIZE, SIZE])],
    outputs: [
      valueInfo('embedding', ['batch', D]),
      valueInfo('logits', ['batch', 2]),
      valueInfo('unused', ['batch', D, SIZE, SIZE]),
    ],
    initializers: [
      t('conv.weight', [D, 3, 3, 3]),
      floatTensor('zero', [], [0]),
      t('fc.weight', [D, 2]),
      t('unused.scale', [1]),
    ],
    valueInfo: [
      valueInfo('relu', ['batch', D, SIZE, SIZE]),
      valueInfo('logits', ['batch', 2]),
      valueInfo('unused', ['batch', D, SIZE, SIZE]),
    ],
  });
}

async function classifier(dim: number): Promise<LinearClassifier> {
  const rand = seededRandom(9);
  const X = Float32Array.from({ length: 30 * dim }, () => rand());
  const y = Int32Array.from({ length: 30 }, (_, i) => i % CLASSES.length);
  return new LinearClassifier({ solver: 'softmax', scale: 'none', C: 1, threads: 1 }).fit(toEmbeddings(X, dim), y, {
    classes: CLASSES,
  });
}

/** sha256 of the fused graph's backbone part: what the pruning decided, independent of the head's weights. */
function backbonePart(model: onnx.IModelProto): string {
  const g = model.graph!;
  const mine = (name: string | null | undefined): boolean => (name ?? '').startsWith('backbone/');
  const part = onnx.GraphProto.encode({
    node: (g.node ?? []).filter((n) => mine(n.name) || (n.output ?? []).some(mine)),
    initializer: (g.initializer ?? []).filter((t) => mine(t.name)),
    valueInfo: (g.valueInfo ?? []).filter((v) => mine(v.name)),
  }).finish();
  return createHash('sha256').update(part).digest('hex');
}

test('the tiny graph: dead head and branch dropped, If branch inputs kept, as before', async () => {
  const spec: PreprocessSpec = {
    ...TORCHVISION_IMAGENET,
    resize: { mode: 'shorter', size: SIZE },
    crop: { height: SIZE, width: SIZE },
  };
  const { model } = buildFusedModel({ backboneModel: tinyBackbone(), spec, classifier: await classifier(D) });
  const names = (model.graph!.node ?? []).map((n) => n.name);
  expect(names).toContain('backbone/choose');
  expect(names).not.toContain('backbone/logits');
  expect(names).not.toContain('backbone/unused');
  expect((model.graph!.initializer ?? []).map((t) => t.name)).not.toContain('backbone/fc.weight');
  expect(backbonePart(model)).toBe('c3673731ef1c62f2dac6c251f4910ec4afc760ac77b225458129249bd9f34f0a');
});

test('the real ResNet50: the same backbone graph as before', async () => {
  const spec = resolveModel('resnet50').preprocess;
  const backbone = loadModel(await realResnet50());
  const { model } = buildFusedModel({ backboneModel: backbone, spec, classifier: await classifier(2048) });
  expect(backbonePart(model)).toBe('5af84f22ab4b14b313b636b6e41c54926f47f97d72a0b781f6d4cab0a95b8904');
});
