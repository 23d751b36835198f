/** Keras activation functions as ONNX nodes (shared by Activation layers and fused conv/dense activations). */
import { ConvfeatError } from '../../../util/errors';
import { graphAxis, type GraphBuilder, type KTensor } from './graph';

/** Applies a Keras activation by name; returns the tensor unchanged for "linear". */
export function applyActivation(
  g: GraphBuilder,
  x: KTensor,
  activation: unknown,
  layerName: string,
  className: string,
): KTensor {
  const name = activation === undefined || activation === null ? 'linear' : String(activation);
  const base = layerName;
  const out = (value: string): KTensor => ({ name: value, shape: x.shape });
  switch (name) {
    case 'linear':
      return x;
    case 'relu':
      return out(g.op('Relu', [x.name], base));
    case 'relu6':
      return out(g.op('Clip', [x.name, g.scalar(0), g.scalar(6)], base));
    case 'sigmoid':
      return out(g.op('Sigmoid', [x.name], base));
    case 'tanh':
      return out(g.op('Tanh', [x.name], base));
    case 'softmax':
      return out(g.op('Softmax', [x.name], base, { axis: graphAxis(-1, x.shape.length) }));
    case 'elu':
      return out(g.op('Elu', [x.name], base, { alpha: { float: 1 } }));
    case 'selu':
      return out(
        g.op('Selu', [x.name], base, { alpha: { float: 1.6732632423543772 }, gamma: { float: 1.0507009873554805 } }),
      );
    case 'softplus':
      return out(g.op('Softplus', [x.name], base));
    case 'softsign':
      return out(g.op('Softsign', [x.name], base));
    case 'exponential':
      return out(g.op('Exp', [x.name], base));
    case 'hard_sigmoid':
      // tfjs-layers' (and Keras 2's) definition: clip(0.2·x + 0.5, 0, 1).
      return out(g.op('HardSigmoid', [x.name], base, { alpha: { float: 0.2 }, beta: { float: 0.5 } }));
    case 'swish':
    case 'silu': {
      const s = g.op('Sigmoid', [x.name], `${base}_sigmoid`);
      return out(g.op('Mul', [x.name, s], base));
    }
    default:
      throw new ConvfeatError(
        `Layer ${layerName} (${className}) uses activation "${name}", which the TF.js→ONNX converter does not support.`,
      );
  }
}
