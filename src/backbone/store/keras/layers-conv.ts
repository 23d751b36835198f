/**
 * Spatial layers: convolutions, pooling, padding and cropping. Keras kernels are HWIO (depthwise: H, W, C, multiplier);
 * ONNX wants OIHW, so kernels are transposed once at conversion time.
 *
 * TF's "same" padding is asymmetric when the total is odd: the extra row/column goes at the bottom/right. With the
 * input size known the pads are computed exactly (as TF does); otherwise ONNX's SAME_UPPER, which means the same.
 */
import { applyActivation } from './activations';
import {
  pair,
  requireChannelsLast,
  requireRank,
  singleInput,
  unsupported,
  type LayerContext,
  type Translator,
} from './context';
import { transposeData, type Dim, type KTensor } from './graph';
import type { AttrValue } from '../../graph/proto';
import type { KerasWeight } from './weights';

interface Window {
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
}

/** Pads/auto_pad attributes and the output spatial size for one window over an [H, W, C] input. */
function windowGeometry(
  ctx: LayerContext,
  input: KTensor,
  w: Window,
): { attrs: Record<string, AttrValue>; out: [Dim, Dim] } {
  const padding = ctx.layer.config.padding ?? 'valid';
  if (padding !== 'valid' && padding !== 'same') throw unsupported(ctx, `uses padding "${padding}"`);
  const sizes = [input.shape[0] ?? null, input.shape[1] ?? null];
  const out: [Dim, Dim] = [null, null];
  const begin = [0, 0];
  const end = [0, 0];
  let unknown = false;
  for (let i = 0; i < 2; i++) {
    const n = sizes[i];
    const effective = (w.kernel[i]! - 1) * w.dilations[i]! + 1;
    if (n === null || n === undefined) {
      unknown = true;
      continue;
    }
    if (padding === 'valid') {
      out[i] = Math.floor((n - effective) / w.strides[i]!) + 1;
      if (out[i]! < 1) throw unsupported(ctx, `has a ${effective}-wide window over an input of size ${n}`);
    } else {
      out[i] = Math.ceil(n / w.strides[i]!);
      const total = Math.max((out[i]! - 1) * w.strides[i]! + effective - n, 0);
      begin[i] = Math.floor(total / 2);
      end[i] = total - begin[i]!;
    }
  }
  const attrs: Record<string, AttrValue> = {
    kernel_shape: [...w.kernel],
    strides: [...w.strides],
  };
  if (padding === 'same' && unknown) attrs.auto_pad = 'SAME_UPPER';
  else attrs.pads = [begin[0]!, begin[1]!, end[0]!, end[1]!];
  return { attrs, out };
}

function convWindow(ctx: LayerContext): Window {
  return {
    kernel: pair(ctx, 'kernel_size'),
    strides: pair(ctx, 'strides', [1, 1]),
    dilations: pair(ctx, 'dilation_rate', [1, 1]),
  };
}

const HWIO_TO_OIHW = [3, 2, 0, 1];

function oihw(w: KerasWeight): { data: Float32Array; shape: number[] } {
  return transposeData(w.data, w.shape, HWIO_TO_OIHW);
}

/** Depthwise kernel [kh, kw, C, M] → [C·M, 1, kh, kw]; output channel c·M + m is Keras's order too. */
function depthwiseOihw(w: KerasWeight): { data: Float32Array; shape: number[] } {
  const [kh, kw, c, m] = w.shape as [number, number, number, number];
  const t = transposeData(w.data, w.shape, [2, 3, 0, 1]);
  return { data: t.data, shape: [c * m, 1, kh, kw] };
}

function biasInput(ctx: LayerContext): string[] {
  return ctx.layer.config.use_bias === false ? [] : [ctx.initializer('bias')];
}

function finish(ctx: LayerContext, output: string, shape: Dim[]): KTensor {
  const name = ctx.layer.name;
  return applyActivation(ctx.g, { name: output, shape }, ctx.layer.config.activation, name, ctx.layer.className);
}

const conv2d: Translator = (ctx) => {
  requireChannelsLast(ctx);
  const x = singleInput(ctx);
  requireRank(ctx, x, 3, 'an image tensor');
  const w = convWindow(ctx);
  const kernel = ctx.weight('kernel');
  const groups = Number(ctx.layer.config.groups ?? 1);
  const cout = kernel.shape[3]!;
  const { attrs, out } = windowGeometry(ctx, x, w);
  attrs.dilations = [...w.dilations];
  if (groups !== 1) attrs.group = groups;
  const activated = ctx.layer.config.activation && ctx.layer.config.activation !== 'linear';
  const y = ctx.g.op(
    'Conv',
    [x.name, ctx.initializer('kernel', oihw), ...biasInput(ctx)],
    activated ? `${ctx.layer.name}_conv` : ctx.layer.name,
    attrs,
  );
  return finish(ctx, y, [out[0], out[1], cout]);
};

const depthwiseConv2d: Translator = (ctx) => {
  requireChannelsLast(ctx);
  const x = singleInput(ctx);
  requireRank(ctx, x, 3, 'an image tensor');
  const w = convWindow(ctx);
  const kernel = ctx.weight('depthwise_kernel');
  const [, , c, m] = kernel.shape as [number, number, number, number];
  const { attrs, out } = windowGeometry(ctx, x, w);
  attrs.dilations = [...w.dilations];
  attrs.group = c;
  const activated = ctx.layer.config.activation && ctx.layer.config.activation !== 'linear';
  const y = ctx.g.op(
    'Conv',
    [x.name, ctx.initializer('depthwise_kernel', depthwiseOihw), ...biasInput(ctx)],
    activated ? `${ctx.layer.name}_conv` : ctx.layer.name,
    attrs,
  );
  return finish(ctx, y, [out[0], out[1], c * m]);
};

/** Depthwise then 1×1 pointwise; the bias (if any) belongs to the pointwise step. */
const separableConv2d: Translator = (ctx) => {
  requireChannelsLast(ctx);
  const x = singleInput(ctx);
  requireRank(ctx, x, 3, 'an image tensor');
  const w = convWindow(ctx);
  const dw = ctx.weight('depthwise_kernel');
  const pw = ctx.weight('pointwise_kernel');
  const [, , c] = dw.shape as [number, number, number, number];
  const { attrs, out } = windowGeometry(ctx, x, w);
  attrs.dilations = [...w.dilations];
  attrs.group = c;
  const depthwise = ctx.g.op(
    'Conv',
    [x.name, ctx.initializer('depthwise_kernel', depthwiseOihw)],
    `${ctx.layer.name}_depthwise`,
    attrs,
  );
  const activated = ctx.layer.config.activation && ctx.layer.config.activation !== 'linear';
  const y = ctx.g.op(
    'Conv',
    [depthwise, ctx.initializer('pointwise_kernel', oihw), ...biasInput(ctx)],
    activated ? `${ctx.layer.name}_conv` : ctx.layer.name,
    { kernel_shape: [1, 1] },
  );
  return finish(ctx, y, [out[0], out[1], pw.shape[3]!]);
};

function pooling(opType: 'MaxPool' | 'AveragePool'): Translator {
  return (ctx) => {
    requireChannelsLast(ctx);
    const x = singleInput(ctx);
    requireRank(ctx, x, 3, 'an image tensor');
    const kernel = pair(ctx, 'pool_size', [2, 2]);
    const strides = pair(ctx, 'strides', kernel);
    const { attrs, out } = windowGeometry(ctx, x, { kernel, strides, dilations: [1, 1] });
    // TF averages over the valid (unpadded) cells only, which is ONNX's count_include_pad = 0 (the default).
    const y = ctx.g.op(opType, [x.name], ctx.layer.name, attrs);
    return { name: y, shape: [out[0], out[1], x.shape[2] ?? null] };
  };
}

function globalPooling(opType: 'ReduceMean' | 'ReduceMax'): Translator {
  return (ctx) => {
    requireChannelsLast(ctx);
    const x = singleInput(ctx);
    requireRank(ctx, x, 3, 'an image tensor');
    const keep = ctx.layer.config.keepdims === true;
    const y = ctx.g.op(opType, [x.name], ctx.layer.name, { axes: [2, 3], keepdims: keep ? 1 : 0 });
    return { name: y, shape: keep ? [1, 1, x.shape[2] ?? null] : [x.shape[2] ?? null] };
  };
}

/** ((top, bottom), (left, right)) from Keras's int | [sym_h, sym_w] | [[t, b], [l, r]] forms. */
function fourSides(ctx: LayerContext, key: string): [number, number, number, number] {
  const v = ctx.layer.config[key];
  if (typeof v === 'number') return [v, v, v, v];
  if (Array.isArray(v) && v.length === 2) {
    if (typeof v[0] === 'number' && typeof v[1] === 'number') return [v[0], v[0], v[1], v[1]];
    if (Array.isArray(v[0]) && Array.isArray(v[1])) return [v[0][0], v[0][1], v[1][0], v[1][1]];
  }
  throw unsupported(ctx, `has ${key} ${JSON.stringify(v)}`);
}

const plus = (d: Dim, n: number): Dim => (d === null ? null : d + n);

const zeroPadding2d: Translator = (ctx) => {
  requireChannelsLast(ctx);
  const x = singleInput(ctx);
  requireRank(ctx, x, 3, 'an image tensor');
  const [t, b, l, r] = fourSides(ctx, 'padding');
  const pads = ctx.g.int64Init('pads', [0, 0, t, l, 0, 0, b, r]);
  const y = ctx.g.op('Pad', [x.name, pads], ctx.layer.name, { mode: 'constant' });
  return { name: y, shape: [plus(x.shape[0]!, t + b), plus(x.shape[1]!, l + r), x.shape[2] ?? null] };
};

const cropping2d: Translator = (ctx) => {
  requireChannelsLast(ctx);
  const x = singleInput(ctx);
  requireRank(ctx, x, 3, 'an image tensor');
  const [t, b, l, r] = fourSides(ctx, 'cropping');
  const INT64_MAX = Number.MAX_SAFE_INTEGER; // Slice clamps ends to the dimension
  const starts = ctx.g.int64Init('starts', [t, l]);
  const ends = ctx.g.int64Init('ends', [b > 0 ? -b : INT64_MAX, r > 0 ? -r : INT64_MAX]);
  const axes = ctx.g.int64Init('axes', [2, 3]);
  const y = ctx.g.op('Slice', [x.name, starts, ends, axes], ctx.layer.name);
  return { name: y, shape: [plus(x.shape[0]!, -(t + b)), plus(x.shape[1]!, -(l + r)), x.shape[2] ?? null] };
};

export const CONV_LAYERS: Record<string, Translator> = {
  Conv2D: conv2d,
  DepthwiseConv2D: depthwiseConv2d,
  SeparableConv2D: separableConv2d,
  MaxPooling2D: pooling('MaxPool'),
  MaxPool2D: pooling('MaxPool'),
  AveragePooling2D: pooling('AveragePool'),
  AvgPool2D: pooling('AveragePool'),
  GlobalAveragePooling2D: globalPooling('ReduceMean'),
  GlobalAvgPool2D: globalPooling('ReduceMean'),
  GlobalMaxPooling2D: globalPooling('ReduceMax'),
  GlobalMaxPool2D: globalPooling('ReduceMax'),
  ZeroPadding2D: zeroPadding2d,
  Cropping2D: cropping2d,
};
