/**
 * Non-spatial layers: normalisation, dense, activations, merges, flatten/reshape, and the layers that are identity at
 * inference (dropout and noise).
 *
 * Flatten and Reshape are where layouts meet: Keras flattens H·W·C in channels-last order and the following Dense
 * kernel rows are in that order, so an NCHW tensor is transposed back to NHWC before it is flattened.
 */
import { applyActivation } from './activations';
import { requireRank, singleInput, unsupported, type LayerContext, type Translator } from './context';
import { graphAxis, type Dim, type KTensor } from './graph';

const NCHW_TO_NHWC = [0, 2, 3, 1];
const NHWC_TO_NCHW = [0, 3, 1, 2];

function product(shape: Dim[]): Dim {
  return shape.reduce<Dim>((a, b) => (a === null || b === null ? null : a * b), 1);
}

const batchNormalization: Translator = (ctx) => {
  const x = singleInput(ctx);
  const cfg = ctx.layer.config;
  const rawAxis = Array.isArray(cfg.axis) ? (cfg.axis.length === 1 ? cfg.axis[0] : NaN) : (cfg.axis ?? -1);
  const rank = x.shape.length;
  if (rawAxis !== -1 && rawAxis !== rank)
    throw unsupported(ctx, `normalises axis ${JSON.stringify(cfg.axis)} instead of the channel axis`);
  const mean = ctx.weight('moving_mean');
  const channels = mean.shape[0]!;
  const ones = (): { data: Float32Array; shape: number[] } => ({
    data: new Float32Array(channels).fill(1),
    shape: [channels],
  });
  const zeros = (): { data: Float32Array; shape: number[] } => ({
    data: new Float32Array(channels),
    shape: [channels],
  });
  // center=false / scale=false mean no beta / gamma weight in the manifest: use the neutral values instead.
  const gamma =
    cfg.scale === false
      ? ctx.g.floatInit(`${ctx.layer.name}/gamma`, [channels], ones().data)
      : ctx.initializer('gamma');
  const beta =
    cfg.center === false
      ? ctx.g.floatInit(`${ctx.layer.name}/beta`, [channels], zeros().data)
      : ctx.initializer('beta');
  const epsilon = typeof cfg.epsilon === 'number' ? cfg.epsilon : 1e-3;
  const y = ctx.g.op(
    'BatchNormalization',
    [x.name, gamma, beta, ctx.initializer('moving_mean'), ctx.initializer('moving_variance')],
    ctx.layer.name,
    {
      epsilon: { float: epsilon },
    },
  );
  return { name: y, shape: x.shape };
};

const dense: Translator = (ctx) => {
  const x = singleInput(ctx);
  requireRank(ctx, x, 1, 'a flat [batch, features] input');
  const kernel = ctx.weight('kernel');
  const units = kernel.shape[1]!;
  const bias = ctx.layer.config.use_bias === false ? [] : [ctx.initializer('bias')];
  const activated = ctx.layer.config.activation && ctx.layer.config.activation !== 'linear';
  // Gemm with the Keras [in, units] kernel as is: the head cutter recognises Gemm as a fully connected layer.
  const y = ctx.g.op(
    'Gemm',
    [x.name, ctx.initializer('kernel'), ...bias],
    activated ? `${ctx.layer.name}_linear` : ctx.layer.name,
  );
  return applyActivation(
    ctx.g,
    { name: y, shape: [units] },
    ctx.layer.config.activation,
    ctx.layer.name,
    ctx.layer.className,
  );
};

const activation: Translator = (ctx) =>
  applyActivation(ctx.g, singleInput(ctx), ctx.layer.config.activation, ctx.layer.name, ctx.layer.className);

const relu: Translator = (ctx) => {
  const x = singleInput(ctx);
  const cfg = ctx.layer.config;
  const maxValue = cfg.max_value ?? null;
  const slope = cfg.negative_slope ?? 0;
  const threshold = cfg.threshold ?? 0;
  if (threshold !== 0) throw unsupported(ctx, `has threshold ${threshold}`);
  let y: string;
  if (slope !== 0) {
    if (maxValue !== null) throw unsupported(ctx, 'combines negative_slope with max_value');
    y = ctx.g.op('LeakyRelu', [x.name], ctx.layer.name, { alpha: { float: slope } });
  } else if (maxValue !== null) {
    y = ctx.g.op('Clip', [x.name, ctx.g.scalar(0), ctx.g.scalar(maxValue)], ctx.layer.name);
  } else {
    y = ctx.g.op('Relu', [x.name], ctx.layer.name);
  }
  return { name: y, shape: x.shape };
};

const leakyRelu: Translator = (ctx) => {
  const x = singleInput(ctx);
  const alpha = ctx.layer.config.alpha ?? ctx.layer.config.negative_slope ?? 0.3;
  return { name: ctx.g.op('LeakyRelu', [x.name], ctx.layer.name, { alpha: { float: alpha } }), shape: x.shape };
};

const elu: Translator = (ctx) => {
  const x = singleInput(ctx);
  const alpha = ctx.layer.config.alpha ?? 1;
  return { name: ctx.g.op('Elu', [x.name], ctx.layer.name, { alpha: { float: alpha } }), shape: x.shape };
};

const softmax: Translator = (ctx) => {
  const x = singleInput(ctx);
  const raw = ctx.layer.config.axis ?? -1;
  const axis = Array.isArray(raw) ? (raw.length === 1 ? raw[0] : NaN) : raw;
  if (!Number.isInteger(axis)) throw unsupported(ctx, `has softmax axis ${JSON.stringify(raw)}`);
  return {
    name: ctx.g.op('Softmax', [x.name], ctx.layer.name, { axis: graphAxis(axis, x.shape.length) }),
    shape: x.shape,
  };
};

const rescaling: Translator = (ctx) => {
  const x = singleInput(ctx);
  const { scale, offset } = ctx.layer.config;
  if (typeof scale !== 'number' || typeof (offset ?? 0) !== 'number')
    throw unsupported(ctx, 'has per-channel scale or offset');
  const scaled = ctx.g.op('Mul', [x.name, ctx.g.scalar(scale)], `${ctx.layer.name}_scale`);
  return { name: ctx.g.op('Add', [scaled, ctx.g.scalar(offset ?? 0)], ctx.layer.name), shape: x.shape };
};

const identity: Translator = (ctx) => singleInput(ctx);

const flatten: Translator = (ctx) => {
  const x = singleInput(ctx);
  if (x.shape.length === 1) return x;
  const source =
    x.shape.length === 3 ? ctx.g.op('Transpose', [x.name], `${ctx.layer.name}_nhwc`, { perm: NCHW_TO_NHWC }) : x.name;
  return { name: ctx.g.op('Flatten', [source], ctx.layer.name, { axis: 1 }), shape: [product(x.shape)] };
};

const reshape: Translator = (ctx) => {
  const x = singleInput(ctx);
  const target = ctx.layer.config.target_shape as unknown;
  if (!Array.isArray(target) || !target.every((d) => Number.isInteger(d) && (d > 0 || d === -1))) {
    throw unsupported(ctx, `has target_shape ${JSON.stringify(target)}`);
  }
  const dims = target as number[];
  const total = product(x.shape);
  const known = dims.filter((d) => d > 0).reduce((a, b) => a * b, 1);
  const shape: Dim[] = dims.map((d) => (d > 0 ? d : total === null ? null : total / known));
  const source =
    x.shape.length === 3 ? ctx.g.op('Transpose', [x.name], `${ctx.layer.name}_nhwc`, { perm: NCHW_TO_NHWC }) : x.name;
  const keras = ctx.g.op(
    'Reshape',
    [source, ctx.g.int64Init('shape', [0, ...dims])],
    dims.length === 3 ? `${ctx.layer.name}_nhwc_out` : ctx.layer.name,
  );
  const y = dims.length === 3 ? ctx.g.op('Transpose', [keras], ctx.layer.name, { perm: NHWC_TO_NCHW }) : keras;
  return { name: y, shape };
};

/** Broadcast shape of same-rank inputs (squeeze-and-excite multiplies [H, W, C] by [1, 1, C]). */
function broadcastShape(ctx: LayerContext): Dim[] {
  const rank = ctx.inputs[0]!.shape.length;
  if (ctx.inputs.some((t) => t.shape.length !== rank)) throw unsupported(ctx, 'merges tensors of different ranks');
  return Array.from({ length: rank }, (_, i) => {
    const dims = ctx.inputs.map((t) => t.shape[i] ?? null);
    if (dims.every((d) => d === 1)) return 1;
    return dims.find((d) => d !== null && d !== 1) ?? null;
  });
}

function merge(binaryOp: string, variadicOp?: string): Translator {
  return (ctx) => {
    if (ctx.inputs.length < 2) throw unsupported(ctx, `has ${ctx.inputs.length} input where two or more are expected`);
    const shape = broadcastShape(ctx);
    const names = ctx.inputs.map((t) => t.name);
    if (variadicOp) return { name: ctx.g.op(variadicOp, names, ctx.layer.name), shape };
    if (binaryOp === 'Sub' && names.length !== 2) throw unsupported(ctx, `subtracts ${names.length} inputs`);
    let acc = names[0]!;
    for (let i = 1; i < names.length; i++) {
      acc = ctx.g.op(binaryOp, [acc, names[i]!], i === names.length - 1 ? ctx.layer.name : `${ctx.layer.name}_${i}`);
    }
    return { name: acc, shape };
  };
}

const concatenate: Translator = (ctx) => {
  if (ctx.inputs.length < 1) throw unsupported(ctx, 'has no inputs');
  const rank = ctx.inputs[0]!.shape.length;
  if (ctx.inputs.some((t) => t.shape.length !== rank))
    throw unsupported(ctx, 'concatenates tensors of different ranks');
  const kerasAxis = ctx.layer.config.axis ?? -1;
  const axis = graphAxis(kerasAxis, rank);
  const k = (kerasAxis < 0 ? kerasAxis + rank + 1 : kerasAxis) - 1; // index into the batch-less Keras shape
  const shape = ctx.inputs[0]!.shape.map((d, i) =>
    i === k
      ? ctx.inputs.reduce<Dim>((s, t) => (s === null || t.shape[i] === null ? null : s + (t.shape[i] as number)), 0)
      : d,
  );
  return {
    name: ctx.g.op(
      'Concat',
      ctx.inputs.map((t) => t.name),
      ctx.layer.name,
      { axis },
    ),
    shape,
  };
};

export const CORE_LAYERS: Record<string, Translator> = {
  BatchNormalization: batchNormalization,
  Dense: dense,
  Activation: activation,
  ReLU: relu,
  LeakyReLU: leakyRelu,
  ELU: elu,
  Softmax: softmax,
  Rescaling: rescaling,
  Dropout: identity,
  SpatialDropout2D: identity,
  GaussianNoise: identity,
  GaussianDropout: identity,
  AlphaDropout: identity,
  ActivityRegularization: identity,
  Flatten: flatten,
  Reshape: reshape,
  Add: merge('Add'),
  Subtract: merge('Sub'),
  Multiply: merge('Mul'),
  Average: merge('Mean', 'Mean'),
  Maximum: merge('Max', 'Max'),
  Minimum: merge('Min', 'Min'),
  Concatenate: concatenate,
};
