/**
 * TF.js layers model (Keras topology + float32 weights) → ONNX ModelProto.
 *
 * The graph takes `input`, float32 [batch, C, H, W] (NCHW, already preprocessed: no scaling or mean inside the
 * graph), and has two outputs: `embedding` (the output of a named layer, e.g. ResNet50's `avg_pool`) and
 * `probabilities` (the model's final layer). Keras configs are walked in dependency order, each layer call turned
 * into ONNX nodes by the translators in layers-*.ts.
 */
import * as path from 'path';
import { ConvfeatError } from '../../../util/errors';
import { nonEmptyString, invalid } from '../../../util/validate';
import { DEFAULT_OPSET, makeModel, onnx, valueInfo } from '../../graph/proto';
import type { KerasConfig, KerasLayer, LayerContext, Translator } from './context';
import { GraphBuilder, type Dim, type KTensor } from './graph';
import { CONV_LAYERS } from './layers-conv';
import { CORE_LAYERS } from './layers-core';
import { findWeight, readTfjsLayersModel, type KerasWeight, type TfjsLayersModel } from './weights';

export const CONVERTER_NAME = 'convfeat-keras';
/** Bump when the produced graph changes, so stores re-convert their cached models. */
export const CONVERTER_VERSION = 1;

export const INPUT_NAME = 'input';
export const EMBEDDING_OUTPUT = 'embedding';
export const PROBABILITIES_OUTPUT = 'probabilities';

export interface ConvertOptions {
  /** Layer whose output becomes the `embedding` graph output (ResNet50: "avg_pool"). */
  embeddingLayer: string;
  /** Fixes the spatial input size where the Keras model leaves it open ([H, W]). */
  inputSize?: [number, number];
  /** Extra metadata_props (e.g. source URL and hash, preprocessing) written into the model. */
  metadata?: Record<string, string>;
}

const TRANSLATORS: Record<string, Translator> = { ...CONV_LAYERS, ...CORE_LAYERS };

interface LayerCall {
  layer: KerasLayer;
  /** Index of this call among the layer's inbound nodes (shared layers are called more than once). */
  callIndex: number;
  /** Keys "layer:node:tensor" of the tensors this call consumes. */
  inputKeys: string[];
}

interface RawLayer {
  name: string;
  class_name: string;
  config: KerasConfig;
  inbound_nodes?: unknown[];
}

/** One inbound node → its input keys; reads both Keras 2 ([[name, node, tensor, kwargs], ...]) and Keras 3 forms. */
function inboundKeys(inbound: unknown): string[] {
  if (Array.isArray(inbound)) {
    return inbound.map((ref) => {
      const [name, nodeIndex, tensorIndex] = ref as [string, number, number];
      return `${name}:${nodeIndex ?? 0}:${tensorIndex ?? 0}`;
    });
  }
  const args = (inbound as { args?: unknown[] }).args ?? [];
  const flat = args.flatMap((a) => (Array.isArray(a) ? a : [a])) as Array<{
    config?: { keras_history?: [string, number, number] };
  }>;
  return flat
    .filter((a) => a?.config?.keras_history)
    .map((a) => {
      const [name, nodeIndex, tensorIndex] = a.config!.keras_history!;
      return `${name}:${nodeIndex}:${tensorIndex}`;
    });
}

function toLayer(raw: RawLayer): KerasLayer {
  return { name: String(raw.config?.name ?? raw.name), className: raw.class_name, config: raw.config ?? {} };
}

/** Lists layer calls and names the model's input and output keys, for functional and Sequential models. */
function describeTopology(model: TfjsLayersModel): {
  inputs: Array<{ key: string; layer: KerasLayer }>;
  calls: LayerCall[];
  outputKey: string;
} {
  const { class_name: className, config } = model.modelConfig;
  const source = path.join(model.dir, 'model.json');
  if (className === 'Sequential') {
    const rawLayers = (
      Array.isArray(config) ? config : ((config as { layers?: RawLayer[] }).layers ?? [])
    ) as RawLayer[];
    if (rawLayers.length === 0) throw new ConvfeatError(`${source} describes a Sequential model without layers.`);
    const layers = rawLayers.map(toLayer);
    let inputLayer: KerasLayer;
    if (layers[0]!.className === 'InputLayer') {
      inputLayer = layers.shift()!;
    } else {
      // Old Sequential configs put the input shape on the first layer instead of a separate InputLayer.
      const shape = layers[0]!.config.batch_input_shape;
      inputLayer = { name: 'input_sequential', className: 'InputLayer', config: { batch_input_shape: shape } };
    }
    const calls = layers.map((layer, i) => ({
      layer,
      callIndex: 0,
      inputKeys: [`${i === 0 ? inputLayer.name : layers[i - 1]!.name}:0:0`],
    }));
    return {
      inputs: [{ key: `${inputLayer.name}:0:0`, layer: inputLayer }],
      calls,
      outputKey: `${layers[layers.length - 1]!.name}:0:0`,
    };
  }
  if (className !== 'Model' && className !== 'Functional') {
    throw new ConvfeatError(
      `${source} holds a Keras ${className}; only Model, Functional and Sequential topologies can be converted.`,
    );
  }
  const cfg = config as { layers: RawLayer[]; input_layers: unknown[]; output_layers: unknown[] };
  const refs = (v: unknown[]): string[] =>
    (Array.isArray(v[0]) ? (v as unknown[][]) : [v]).map(
      (r) => `${r[0] as string}:${(r[1] as number) ?? 0}:${(r[2] as number) ?? 0}`,
    );
  const inputKeys = refs(cfg.input_layers ?? []);
  const outputKeys = refs(cfg.output_layers ?? []);
  if (inputKeys.length !== 1)
    throw new ConvfeatError(
      `${source} has ${inputKeys.length} inputs; only single-image-input models can be converted.`,
    );
  if (outputKeys.length !== 1)
    throw new ConvfeatError(
      `${source} has ${outputKeys.length} outputs; only single-output classifiers can be converted.`,
    );
  const inputs: Array<{ key: string; layer: KerasLayer }> = [];
  const calls: LayerCall[] = [];
  for (const raw of cfg.layers ?? []) {
    const layer = toLayer(raw);
    if (layer.className === 'InputLayer') {
      inputs.push({ key: `${layer.name}:0:0`, layer });
      continue;
    }
    (raw.inbound_nodes ?? []).forEach((inbound, callIndex) =>
      calls.push({ layer, callIndex, inputKeys: inboundKeys(inbound) }),
    );
  }
  const input = inputs.find((i) => i.key === inputKeys[0]);
  if (!input) throw new ConvfeatError(`${source} names input ${inputKeys[0]} but has no such InputLayer.`);
  return { inputs: [input], calls, outputKey: outputKeys[0]! };
}

function inputShape(layer: KerasLayer, opts: ConvertOptions, source: string): [Dim, Dim, number] {
  const shape = (layer.config.batch_input_shape ?? layer.config.batch_shape) as Dim[] | undefined;
  if (!Array.isArray(shape) || shape.length !== 4) {
    throw new ConvfeatError(
      `${source} has input shape ${JSON.stringify(shape)}; only 4-D image inputs [batch, H, W, C] can be converted.`,
    );
  }
  const channels = shape[3];
  if (typeof channels !== 'number')
    throw new ConvfeatError(`${source} leaves the input channel count open; it must be fixed (e.g. 3).`);
  const h = opts.inputSize?.[0] ?? shape[1] ?? null;
  const w = opts.inputSize?.[1] ?? shape[2] ?? null;
  return [h, w, channels];
}

function dimsForOutput(t: KTensor, batch: string): Array<number | string> {
  const graphOrder = t.shape.length === 3 ? [t.shape[2], t.shape[0], t.shape[1]] : t.shape;
  return [batch, ...graphOrder.map((d, i) => (d === null || d === undefined ? `d${i + 1}` : d))];
}

/** Converts an already-read TF.js layers model (see readTfjsLayersModel). */
export function convertLayersModel(model: TfjsLayersModel, opts: ConvertOptions): onnx.ModelProto {
  const source = path.join(model.dir, 'model.json');
  const { inputs, calls, outputKey } = describeTopology(model);
  const g = new GraphBuilder();
  g.reserve(INPUT_NAME);
  g.reserve(EMBEDDING_OUTPUT);
  g.reserve(PROBABILITIES_OUTPUT);
  const [h, w, c] = inputShape(inputs[0]!.layer, opts, source);
  const tensors = new Map<string, KTensor>([[inputs[0]!.key, { name: INPUT_NAME, shape: [h, w, c] }]]);
  const initCache = new Map<string, string>();
  const usedWeights = new Set<string>();

  let pending = calls;
  while (pending.length > 0) {
    const next: LayerCall[] = [];
    for (const call of pending) {
      const ins = call.inputKeys.map((k) => tensors.get(k));
      if (ins.some((t) => t === undefined)) {
        next.push(call);
        continue;
      }
      const translate = TRANSLATORS[call.layer.className];
      if (!translate) {
        throw new ConvfeatError(
          `Layer ${call.layer.name} (${call.layer.className}) cannot be converted: the TF.js→ONNX converter does not support ${call.layer.className} layers yet.`,
        );
      }
      const weight = (param: string): KerasWeight => {
        const found = findWeight(model.weights, call.layer.name, param);
        if (!found)
          throw new ConvfeatError(
            `Layer ${call.layer.name} (${call.layer.className}) has no weight ${param} in ${source}; the weights do not match model.json.`,
          );
        usedWeights.add(found.name);
        return found;
      };
      const ctx: LayerContext = {
        g,
        layer: call.layer,
        inputs: ins as KTensor[],
        weight,
        initializer(param, transform) {
          const key = `${call.layer.name}/${param}`;
          const cached = initCache.get(key);
          if (cached) return cached;
          const wt = weight(param);
          const t = transform ? transform(wt) : { data: wt.data, shape: wt.shape };
          const name = g.floatInit(key, t.shape, t.data);
          initCache.set(key, name);
          return name;
        },
      };
      tensors.set(`${call.layer.name}:${call.callIndex}:0`, translate(ctx));
    }
    if (next.length === pending.length) {
      const stuck = next[0]!;
      throw new ConvfeatError(
        `Layer ${stuck.layer.name} waits for ${stuck.inputKeys.join(', ')}, which no layer in ${source} produces.`,
      );
    }
    pending = next;
  }

  const finalTensor = tensors.get(outputKey);
  if (!finalTensor) throw new ConvfeatError(`${source} names output ${outputKey}, which no layer produces.`);
  const embedding = tensors.get(`${opts.embeddingLayer}:0:0`);
  if (!embedding) {
    throw new ConvfeatError(
      `Embedding layer ${opts.embeddingLayer} does not exist in ${source}; pass the name of one of its layers.`,
    );
  }
  // Identity nodes give the outputs stable names whatever the Keras layers were called; ORT folds them away.
  g.nodes.push({ opType: 'Identity', input: [embedding.name], output: [EMBEDDING_OUTPUT], name: EMBEDDING_OUTPUT });
  g.nodes.push({
    opType: 'Identity',
    input: [finalTensor.name],
    output: [PROBABILITIES_OUTPUT],
    name: PROBABILITIES_OUTPUT,
  });

  const modelName = String((model.modelConfig.config as { name?: string })?.name ?? 'keras_model');
  return makeModel(
    {
      name: modelName,
      nodes: g.nodes,
      inputs: [valueInfo(INPUT_NAME, ['batch', c, h ?? 'height', w ?? 'width'])],
      outputs: [
        valueInfo(EMBEDDING_OUTPUT, dimsForOutput(embedding, 'batch')),
        valueInfo(PROBABILITIES_OUTPUT, dimsForOutput(finalTensor, 'batch')),
      ],
      initializers: g.initializers,
    },
    {
      opset: DEFAULT_OPSET,
      producer: CONVERTER_NAME,
      docString: `Converted from the TF.js layers model ${modelName} (Keras ${model.kerasVersion || 'unknown'}) by ${CONVERTER_NAME} ${CONVERTER_VERSION}.`,
      metadata: {
        'convfeat.source_format': 'tfjs-layers',
        'convfeat.keras_version': model.kerasVersion,
        'convfeat.converted_by': model.convertedBy,
        'convfeat.converter': `${CONVERTER_NAME} ${CONVERTER_VERSION}`,
        'convfeat.embedding_layer': opts.embeddingLayer,
        'convfeat.embedding_output': EMBEDDING_OUTPUT,
        'convfeat.probabilities_output': PROBABILITIES_OUTPUT,
        'convfeat.input_layout': 'NCHW',
        'convfeat.unused_weights': String(model.weights.size - usedWeights.size),
        ...(opts.metadata ?? {}),
      },
    },
  );
}

/** Reads a TF.js layers-model folder (model.json + shards) and converts it; see ConvertOptions. */
export function convertKerasModel(dir: string, opts: ConvertOptions): onnx.ModelProto {
  nonEmptyString('dir', dir);
  if (!opts || typeof opts !== 'object') throw invalid('opts', 'an object with embeddingLayer', opts);
  nonEmptyString('opts.embeddingLayer', opts.embeddingLayer);
  if (opts.inputSize !== undefined) {
    const ok =
      Array.isArray(opts.inputSize) &&
      opts.inputSize.length === 2 &&
      opts.inputSize.every((d) => Number.isInteger(d) && d > 0);
    if (!ok) throw invalid('opts.inputSize', 'a pair of positive integers [H, W]', opts.inputSize);
  }
  return convertLayersModel(readTfjsLayersModel(dir), opts);
}
