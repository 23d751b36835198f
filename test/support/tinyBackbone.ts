/**
 * A tiny ImageNet-shaped classifier ([batch,3,224,224] → Conv → Relu → GlobalAveragePool → Flatten → Gemm), so the
 * extract pipeline, the CLI and crash tests run in seconds without the real ResNet50.
 */
import * as fs from 'fs';
import * as path from 'path';
import { encodeModel, floatTensor, makeModel, node, valueInfo } from '../../src/backbone/graph/proto';

export const TINY_DIM = 8;

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

export function tinyBackboneBytes(seed = 3): Uint8Array {
  const rnd = seeded(seed);
  const fill = (n: number): Float32Array => Float32Array.from({ length: n }, () => rnd());
  const model = makeModel({
    name: 'tiny',
    nodes: [
      node('Conv', ['input', 'conv.weight', 'conv.bias'], ['conv'], {
        kernel_shape: [3, 3],
        strides: [4, 4],
        pads: [1, 1, 1, 1],
      }),
      node('Relu', ['conv'], ['relu']),
      node('GlobalAveragePool', ['relu'], ['pool']),
      node('Flatten', ['pool'], ['flat'], { axis: 1 }),
      node('Gemm', ['flat', 'fc.weight', 'fc.bias'], ['output'], { transB: 1 }),
    ],
    inputs: [valueInfo('input', ['batch_size', 3, 224, 224])],
    outputs: [valueInfo('output', ['batch_size', 5])],
    initializers: [
      floatTensor('conv.weight', [TINY_DIM, 3, 3, 3], fill(TINY_DIM * 27)),
      floatTensor('conv.bias', [TINY_DIM], fill(TINY_DIM)),
      floatTensor('fc.weight', [5, TINY_DIM], fill(5 * TINY_DIM)),
      floatTensor('fc.bias', [5], fill(5)),
    ],
  });
  return encodeModel(model);
}

export function writeTinyBackbone(dir: string, name = 'tiny.onnx'): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, tinyBackboneBytes());
  return file;
}
