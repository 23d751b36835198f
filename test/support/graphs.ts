/**
 * Tiny ONNX graphs shaped like torch.onnx.export writes torchvision classifiers (node names such as
 * `/classifier/classifier.4/Relu`, tensors such as `/classifier/classifier.4/Relu_output_0`, weights such as
 * `classifier.6.weight`), scaled down to 3×16×16 inputs so that tests run in milliseconds. Weights are random but
 * seeded. Each builder says which tensor the embedding must be and how wide it is, so tests can check the cutter.
 */
import { mulberry32 } from '../../src/util/prng';
import {
  encodeModel,
  floatTensor,
  int64Tensor,
  makeModel,
  node,
  onnx,
  valueInfo,
  AttrValue,
} from '../../src/backbone/graph/proto';

export interface TinyGraph {
  model: onnx.ModelProto;
  bytes: Uint8Array;
  input: string;
  /** [batch, 3, 16, 16] with batch 1 when the export fixed it. */
  inputDims: Array<number | string>;
  expected: { tensor: string; node: string; dim: number };
}

export const IMAGE_SIZE = 16;
/** Channels of the pooled ResNet-like vector (torchvision resnet18: 512). */
export const RESNET_EMBEDDING_DIM = 16;
/** Widths of the VGG-like fc6/fc7 layers (torchvision vgg16: 4096, 4096); distinct so a wrong cut shows. */
export const VGG_FC6_DIM = 32;
export const VGG_FC7_DIM = 24;
export const CLASSES = 10;

/** Reproducible weights and inputs (the project's one mulberry32). */
export const seededRandom = mulberry32;

export function randomImages(n: number, seed = 7): Float32Array {
  const rand = seededRandom(seed);
  const out = new Float32Array(n * 3 * IMAGE_SIZE * IMAGE_SIZE);
  for (let i = 0; i < out.length; i++) out[i] = rand() * 2 - 1;
  return out;
}

type Head = 'gemm' | 'matmul';

/** Records nodes and weights with torch's naming scheme: module `classifier.4` → node `/classifier/classifier.4/Relu`. */
class TorchGraph {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  private readonly rand: () => number;
  private anonymous = 100;

  constructor(seed: number) {
    this.rand = seededRandom(seed);
  }

  op(module: string, opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, output?: string): string {
    const parts = module ? module.split('.') : [];
    // torch names a numbered child after its container: layer1.0.conv1 → /layer1/layer1.0/conv1
    const scopes = parts.map((p, i) => (i > 0 && /^\d+$/.test(p) ? `${parts[i - 1]}.${p}` : p));
    const name = `/${[...scopes, opType].join('/')}`;
    const out = output ?? `${name}_output_0`;
    this.nodes.push(node(opType, inputs, [out], attrs, name));
    return out;
  }

  weight(name: string, dims: number[], fanIn: number): string {
    const count = dims.reduce((a, b) => a * b, 1);
    const scale = Math.sqrt(6 / fanIn);
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = (this.rand() * 2 - 1) * scale;
    this.initializers.push(floatTensor(name, dims, data));
    return name;
  }

  bias(name: string, count: number): string {
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = this.rand() * 0.2;
    this.initializers.push(floatTensor(name, [count], data));
    return name;
  }

  conv(module: string, x: string, cin: number, cout: number, k: number, stride = 1, pad = Math.floor(k / 2)): string {
    // Exports fold BatchNorm into the conv in eval mode; those weights get anonymous onnx:: names.
    const w = this.weight(`${module}.weight`, [cout, cin, k, k], cin * k * k);
    const b = this.bias(`${module}.bias`, cout);
    return this.op(module, 'Conv', [x, w, b], {
      kernel_shape: [k, k],
      strides: [stride, stride],
      pads: [pad, pad, pad, pad],
      dilations: [1, 1],
      group: 1,
    });
  }

  batchNorm(module: string, x: string, channels: number): string {
    const scale = floatTensor(
      `${module}.weight`,
      [channels],
      Array.from({ length: channels }, () => 0.5 + this.rand()),
    );
    const shift = floatTensor(
      `${module}.bias`,
      [channels],
      Array.from({ length: channels }, () => this.rand() * 0.2),
    );
    const mean = floatTensor(
      `${module}.running_mean`,
      [channels],
      Array.from({ length: channels }, () => this.rand() * 0.2 - 0.1),
    );
    const variance = floatTensor(
      `${module}.running_var`,
      [channels],
      Array.from({ length: channels }, () => 0.5 + this.rand()),
    );
    this.initializers.push(scale, shift, mean, variance);
    return this.op(module, 'BatchNormalization', [x, scale.name!, shift.name!, mean.name!, variance.name!], {
      epsilon: { float: 1e-5 },
      momentum: { float: 0.9 },
    });
  }

  linear(module: string, x: string, cin: number, cout: number, head: Head, output?: string): string {
    if (head === 'gemm') {
      const w = this.weight(`${module}.weight`, [cout, cin], cin);
      const b = this.bias(`${module}.bias`, cout);
      return this.op(module, 'Gemm', [x, w, b], { alpha: { float: 1 }, beta: { float: 1 }, transB: 1 }, output);
    }
    // nn.Linear on a non-2-D input (or with some exporter settings) becomes MatMul with a pre-transposed weight + Add.
    const w = this.weight(`onnx::MatMul_${this.anonymous++}`, [cin, cout], cin);
    const b = this.bias(`${module}.bias`, cout);
    const mm = this.op(module, 'MatMul', [x, w]);
    return this.op(module, 'Add', [mm, b], {}, output);
  }

  dropout(module: string, x: string): string {
    const ratio = `${module}.ratio`;
    this.initializers.push(floatTensor(ratio, [], [0.5]));
    return this.op(module, 'Dropout', [x, ratio]);
  }

  /** Flatten as torch.flatten(x, 1) writes it, or one of the Reshape forms of x.view(x.size(0), -1). */
  flatten(x: string, style: FlattenStyle, features: number): string {
    switch (style) {
      case 'flatten':
        return this.op('', 'Flatten', [x], { axis: 1 });
      case 'reshape':
        this.initializers.push(int64Tensor('onnx::Reshape_shape', [2], [-1, features]));
        return this.op('', 'Reshape', [x, 'onnx::Reshape_shape']);
      case 'reshape-fixed':
        this.initializers.push(int64Tensor('onnx::Reshape_fixed', [2], [1, -1]));
        return this.op('', 'Reshape', [x, 'onnx::Reshape_fixed']);
      case 'reshape-dynamic': {
        const shape = this.op('', 'Shape', [x]);
        this.initializers.push(
          int64Tensor('onnx::Gather_0', [], [0]),
          int64Tensor('onnx::Unsqueeze_axes', [1], [0]),
          int64Tensor('onnx::Concat_minus1', [1], [-1]),
        );
        const batch = this.op('', 'Gather', [shape, 'onnx::Gather_0'], { axis: 0 });
        const unsq = this.op('', 'Unsqueeze', [batch, 'onnx::Unsqueeze_axes']);
        const target = this.op('', 'Concat', [unsq, 'onnx::Concat_minus1'], { axis: 0 });
        return this.op('', 'Reshape', [x, target]);
      }
    }
  }

  build(
    name: string,
    input: string,
    inputDims: Array<number | string>,
    output: string,
    outputDims: Array<number | string>,
    producer = 'pytorch',
  ): onnx.ModelProto {
    return makeModel(
      {
        name,
        nodes: this.nodes,
        inputs: [valueInfo(input, inputDims)],
        outputs: [valueInfo(output, outputDims)],
        initializers: this.initializers,
      },
      { producer, opset: 13 },
    );
  }
}

export type FlattenStyle = 'flatten' | 'reshape' | 'reshape-fixed' | 'reshape-dynamic';

export interface ResNetOptions {
  head?: Head;
  flatten?: FlattenStyle;
  softmax?: boolean;
  /** torch.onnx.export without dynamic_axes fixes batch = 1. */
  fixedBatch?: boolean;
  /** Unfolded BatchNormalization after each conv (export with do_constant_folding=False). */
  batchNorm?: boolean;
  /** Keras-style: an explicit Pad (pads as an input, opset ≥ 11) before the stem conv, and ReduceMean pooling. */
  kerasStyle?: boolean;
  seed?: number;
}

/** resnet18-shaped: conv, pool, two residual blocks, GlobalAveragePool → Flatten → Gemm(transB=1). */
export function resnetLike(options: ResNetOptions = {}): TinyGraph {
  const {
    head = 'gemm',
    flatten = 'flatten',
    softmax = false,
    fixedBatch = false,
    batchNorm = false,
    kerasStyle = false,
    seed = 1,
  } = options;
  const g = new TorchGraph(seed);
  const bn = (module: string, x: string, c: number): string => (batchNorm ? g.batchNorm(module, x, c) : x);
  let stem: string;
  if (kerasStyle) {
    g.initializers.push(int64Tensor('conv1_pad.pads', [8], [0, 0, 1, 1, 0, 0, 1, 1]));
    stem = g.conv('conv1', g.op('conv1_pad', 'Pad', ['input', 'conv1_pad.pads'], { mode: 'constant' }), 3, 8, 3, 2, 0);
  } else {
    stem = g.conv('conv1', 'input', 3, 8, 3, 2);
  }
  let x = g.op('relu', 'Relu', [bn('bn1', stem, 8)]);
  x = g.op('maxpool', 'MaxPool', [x], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 0 });
  // layer1.0: identity shortcut
  let y = g.op('layer1.0.relu', 'Relu', [bn('layer1.0.bn1', g.conv('layer1.0.conv1', x, 8, 8, 3), 8)]);
  y = bn('layer1.0.bn2', g.conv('layer1.0.conv2', y, 8, 8, 3), 8);
  x = g.op('layer1.0.relu_1', 'Relu', [g.op('layer1.0', 'Add', [y, x])]);
  // layer2.0: strided, with a 1×1 downsample shortcut
  y = g.op('layer2.0.relu', 'Relu', [bn('layer2.0.bn1', g.conv('layer2.0.conv1', x, 8, 16, 3, 2), 16)]);
  y = bn('layer2.0.bn2', g.conv('layer2.0.conv2', y, 16, 16, 3), 16);
  const shortcut = g.conv('layer2.0.downsample.0', x, 8, 16, 1, 2, 0);
  x = g.op('layer2.0.relu_1', 'Relu', [g.op('layer2.0', 'Add', [y, shortcut])]);
  const pooled = kerasStyle
    ? g.op('avgpool', 'ReduceMean', [x], { axes: [2, 3], keepdims: 0 })
    : g.op('avgpool', 'GlobalAveragePool', [x]);
  const flat = g.flatten(pooled, flatten, RESNET_EMBEDDING_DIM);
  const logits = g.linear('fc', flat, RESNET_EMBEDDING_DIM, CLASSES, head, softmax ? undefined : 'output');
  if (softmax) g.op('', 'Softmax', [logits], { axis: 1 }, 'output');
  const batch = fixedBatch ? 1 : 'batch_size';
  const inputDims = [batch, 3, IMAGE_SIZE, IMAGE_SIZE];
  return finish(g.build('main_graph', 'input', inputDims, 'output', [batch, CLASSES]), 'input', inputDims, {
    tensor: flat,
    node: g.nodes.find((n) => n.output?.[0] === flat)!.name!,
    dim: RESNET_EMBEDDING_DIM,
  });
}

export interface VggOptions {
  head?: Head;
  dropout?: boolean;
  batchNorm?: boolean;
  /** AdaptiveAvgPool2d((7, 7)) exports as an AveragePool with a 1×1 kernel when the map is already 7×7. */
  avgpool?: boolean;
  flatten?: FlattenStyle;
  softmax?: boolean;
  fixedBatch?: boolean;
  seed?: number;
}

/** vgg16-shaped: conv blocks, MaxPool, [AveragePool], Flatten → fc6 → ReLU → [Dropout] → fc7 → ReLU → [Dropout] → fc8. */
export function vggLike(options: VggOptions = {}): TinyGraph {
  const {
    head = 'gemm',
    dropout = false,
    batchNorm = false,
    avgpool = true,
    flatten = 'flatten',
    softmax = false,
    fixedBatch = false,
    seed = 2,
  } = options;
  const g = new TorchGraph(seed);
  let i = 0;
  const block = (x: string, cin: number, cout: number): string => {
    let y = g.conv(`features.${i++}`, x, cin, cout, 3);
    if (batchNorm) y = g.batchNorm(`features.${i++}`, y, cout);
    return g.op(`features.${i++}`, 'Relu', [y]);
  };
  let x = block('input', 3, 4);
  x = block(x, 4, 4);
  x = g.op(`features.${i++}`, 'MaxPool', [x], {
    kernel_shape: [2, 2],
    strides: [2, 2],
    pads: [0, 0, 0, 0],
    ceil_mode: 0,
  });
  x = block(x, 4, 8);
  x = g.op(`features.${i++}`, 'MaxPool', [x], {
    kernel_shape: [2, 2],
    strides: [2, 2],
    pads: [0, 0, 0, 0],
    ceil_mode: 0,
  });
  if (avgpool)
    x = g.op('avgpool', 'AveragePool', [x], {
      kernel_shape: [1, 1],
      strides: [1, 1],
      pads: [0, 0, 0, 0],
      ceil_mode: 0,
    });
  const features = 8 * 4 * 4;
  x = g.flatten(x, flatten, features);
  x = g.op('classifier.1', 'Relu', [g.linear('classifier.0', x, features, VGG_FC6_DIM, head)]);
  if (dropout) x = g.dropout('classifier.2', x);
  const fc7 = g.op('classifier.4', 'Relu', [g.linear('classifier.3', x, VGG_FC6_DIM, VGG_FC7_DIM, head)]);
  x = dropout ? g.dropout('classifier.5', fc7) : fc7;
  const logits = g.linear('classifier.6', x, VGG_FC7_DIM, CLASSES, head, softmax ? undefined : 'output');
  if (softmax) g.op('', 'Softmax', [logits], { axis: 1 }, 'output');
  const batch = fixedBatch ? 1 : 'batch_size';
  const inputDims = [batch, 3, IMAGE_SIZE, IMAGE_SIZE];
  return finish(g.build('main_graph', 'input', inputDims, 'output', [batch, CLASSES]), 'input', inputDims, {
    tensor: fc7,
    node: '/classifier/classifier.4/Relu',
    dim: VGG_FC7_DIM,
  });
}

/** Negative case: a tabular MLP whose input is [batch, 10], not an image. */
export function tabularMlp(): onnx.ModelProto {
  const g = new TorchGraph(3);
  const h = g.op('relu', 'Relu', [g.linear('fc1', 'features', 10, 8, 'gemm')]);
  g.linear('fc2', h, 8, 3, 'gemm', 'output');
  return g.build('mlp', 'features', ['batch_size', 10], 'output', ['batch_size', 3]);
}

/** Negative case: a SqueezeNet-style classifier with a 1×1 conv head and no fully connected layer. */
export function convOnlyClassifier(): onnx.ModelProto {
  const g = new TorchGraph(4);
  const x = g.op('features.1', 'Relu', [g.conv('features.0', 'input', 3, 8, 3, 2)]);
  const y = g.op('classifier.2', 'Relu', [g.conv('classifier.1', x, 8, CLASSES, 1, 1, 0)]);
  const pooled = g.op('classifier.3', 'GlobalAveragePool', [y]);
  g.op('', 'Flatten', [pooled], { axis: 1 }, 'output');
  return g.build('squeeze', 'input', ['batch_size', 3, IMAGE_SIZE, IMAGE_SIZE], 'output', ['batch_size', CLASSES]);
}

/** The IR 3 habit (and torch's keep_initializers_as_inputs=True): every weight is also listed as a graph input. */
export function withInitializersAsInputs(graph: TinyGraph): TinyGraph {
  const g = graph.model.graph!;
  const weights = (g.initializer ?? []).map((t) => valueInfo(t.name!, (t.dims ?? []).map(Number), t.dataType!));
  const model = onnx.ModelProto.create({ ...graph.model, graph: { ...g, input: [...(g.input ?? []), ...weights] } });
  return { ...graph, model, bytes: encodeModel(model) };
}

/**
 * A classifier that already names its embedding, as convfeat's Keras converter writes them: outputs `embedding`
 * (an Identity of the pooled vector) and `probabilities` (Softmax of the logits).
 */
export function withEmbeddingOutput(graph: TinyGraph, classes = CLASSES): TinyGraph {
  const g = graph.model.graph!;
  const nodes = [
    ...(g.node ?? []).map((n) => ({ ...n, output: (n.output ?? []).map((o) => (o === 'output' ? 'logits' : o)) })),
    node('Identity', [graph.expected.tensor], ['embedding'], {}, 'embedding'),
    node('Softmax', ['logits'], ['probabilities'], { axis: 1 }, 'probabilities'),
  ];
  const batch = graph.inputDims[0]!;
  const outputs = [valueInfo('embedding', [batch, graph.expected.dim]), valueInfo('probabilities', [batch, classes])];
  const model = onnx.ModelProto.create({ ...graph.model, graph: { ...g, node: nodes, output: outputs } });
  return { ...graph, model, bytes: encodeModel(model) };
}

/** The same model with an intermediate tensor exposed as an extra graph output, to compare a cut against. */
export function withExtraOutput(model: onnx.IModelProto, tensor: string): Uint8Array {
  const graph = model.graph!;
  const extra: onnx.IValueInfoProto = {
    name: tensor,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } },
  };
  return encodeModel({ ...model, graph: { ...graph, output: [...(graph.output ?? []), extra] } });
}

function finish(
  model: onnx.ModelProto,
  input: string,
  inputDims: Array<number | string>,
  expected: TinyGraph['expected'],
): TinyGraph {
  return { model, bytes: encodeModel(model), input, inputDims, expected };
}
