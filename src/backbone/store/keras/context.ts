/** What a layer translator sees: the graph, the layer's config, its input tensors and its weights. */
import { ConvfeatError } from '../../../util/errors';
import type { GraphBuilder, KTensor } from './graph';
import type { KerasWeight } from './weights';

// Keras configs are free-form JSON; translators read the fields they know and check them.
export type KerasConfig = Record<string, any>;

export interface KerasLayer {
  name: string;
  className: string;
  config: KerasConfig;
}

export interface LayerContext {
  g: GraphBuilder;
  layer: KerasLayer;
  inputs: KTensor[];
  /** The layer's parameter (e.g. "kernel"), or an error naming the missing weight. */
  weight(param: string): KerasWeight;
  /**
   * An initializer made from a parameter, transformed once (e.g. a kernel transposed to ONNX order); a layer
   * called several times (shared weights) reuses the same initializer.
   */
  initializer(param: string, transform?: (w: KerasWeight) => { data: Float32Array; shape: number[] }): string;
}

export type Translator = (ctx: LayerContext) => KTensor;

export function unsupported(ctx: LayerContext, what: string): ConvfeatError {
  return new ConvfeatError(
    `Layer ${ctx.layer.name} (${ctx.layer.className}) ${what}, which the TF.js→ONNX converter does not support.`,
  );
}

export function singleInput(ctx: LayerContext): KTensor {
  if (ctx.inputs.length !== 1) throw unsupported(ctx, `has ${ctx.inputs.length} inputs where one is expected`);
  return ctx.inputs[0]!;
}

/** Keras stores pairs as an int or a two-element list (kernel_size, strides, pool_size, dilation_rate). */
export function pair(ctx: LayerContext, key: string, fallback?: [number, number]): [number, number] {
  const v = ctx.layer.config[key];
  if (v === undefined || v === null) {
    if (fallback) return fallback;
    throw unsupported(ctx, `has no ${key}`);
  }
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => Number.isInteger(x))) return [v[0], v[1]];
  throw unsupported(ctx, `has ${key} ${JSON.stringify(v)}`);
}

export function requireChannelsLast(ctx: LayerContext): void {
  const fmt = ctx.layer.config.data_format;
  if (fmt !== undefined && fmt !== null && fmt !== 'channels_last') throw unsupported(ctx, `uses data_format ${fmt}`);
}

export function requireRank(ctx: LayerContext, t: KTensor, rank: number, what: string): void {
  if (t.shape.length !== rank)
    throw unsupported(ctx, `expects ${what} but its input has shape [batch, ${t.shape.map(String).join(', ')}]`);
}
