import * as ort from 'onnxruntime-node';
import { decodeModel, encodeModel, floatTensor, makeModel, node, valueInfo } from '../../src/backbone/graph/proto';

describe('onnx proto builder', () => {
  test('a tiny Gemm graph built in TS runs in onnxruntime with the expected numbers', async () => {
    const model = makeModel({
      name: 'tiny',
      nodes: [node('Gemm', ['x', 'W', 'b'], ['y'], { transB: 1 })],
      inputs: [valueInfo('x', ['batch', 2])],
      outputs: [valueInfo('y', ['batch', 3])],
      initializers: [floatTensor('W', [3, 2], [1, 0, 0, 1, 1, 1]), floatTensor('b', [3], [0.5, -0.5, 0])],
    });
    const bytes = encodeModel(model);
    expect(decodeModel(bytes, 'tiny').graph?.node?.[0]?.opType).toBe('Gemm');
    const session = await ort.InferenceSession.create(bytes);
    const out = await session.run({ x: new ort.Tensor('float32', Float32Array.from([2, 3]), [1, 2]) });
    expect(Array.from(out.y!.data as Float32Array)).toEqual([2.5, 2.5, 5]);
  });

  test('bytes that are not ONNX are refused with a sentence', () => {
    expect(() => decodeModel(Buffer.from('hello world, not a model'), 'x.onnx')).toThrow(/x\.onnx is not/);
  });
});
