/**
 * Tiny TF.js layers models for converter and store tests: either built with the tfjs-layers API (random weights,
 * saved in the TF.js folder format, shards split at an odd byte) or a hand-written Keras 2 model.json.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { seededRandom as uniform01 } from '../support/graphs';

// Production mode silences tfjs's "install tfjs-node" banner; the pure-JS backend is the point here.
tf.env().set('PROD', true);

/** Deterministic uniform numbers in [-1, 1) (the shared mulberry32 stream, rescaled), so failures reproduce. */
export function seededRandom(seed: number): () => number {
  const next = uniform01(seed);
  return () => next() * 2 - 1;
}

/** Replaces every weight with seeded random values; variances stay positive so batch norm is well defined. */
export function randomizeWeights(model: tfl.LayersModel, seed: number): void {
  const rand = seededRandom(seed);
  for (const layer of model.layers) {
    const names = layer.weights.map((w) => w.originalName);
    const values = layer.getWeights().map((w, i) => {
      const positive = /moving_variance/.test(names[i]!);
      const data = Float32Array.from({ length: w.size }, () => (positive ? 0.5 + Math.abs(rand()) : 0.5 * rand()));
      return tf.tensor(data, w.shape);
    });
    if (values.length > 0) layer.setWeights(values);
  }
}

/** Saves a tfjs-layers model as a TF.js layers-model folder (model.json + two shards). */
export async function saveTfjsFolder(model: tfl.LayersModel, dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = Buffer.from(artifacts.weightData as ArrayBuffer);
      const cut = Math.min(data.length, 4 * Math.floor(data.length / 8) + 2); // not a multiple of 4: a weight straddles the shards
      fs.writeFileSync(path.join(dir, 'group1-shard1of2.bin'), data.subarray(0, cut));
      fs.writeFileSync(path.join(dir, 'group1-shard2of2.bin'), data.subarray(cut));
      const json = {
        format: 'layers-model',
        generatedBy: 'convfeat test',
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'], weights: artifacts.weightSpecs }],
      };
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}

/** Runs a tfjs model on an NHWC batch and returns [embeddingLayer output, final output] as flat arrays. */
export function runTfjs(
  model: tfl.LayersModel,
  embeddingLayer: string,
  nhwc: Float32Array,
  shape: [number, number, number, number],
): [Float32Array, Float32Array] {
  const probe = tfl.model({
    inputs: model.inputs,
    outputs: [model.getLayer(embeddingLayer).output as tfl.SymbolicTensor, model.outputs[0]!],
  });
  return tf.tidy(() =>
    (probe.predict(tf.tensor4d(nhwc, shape)) as tf.Tensor[]).map((t) => t.dataSync() as Float32Array),
  ) as [Float32Array, Float32Array];
}

/** NHWC → NCHW for the same batch. */
export function toNchw(nhwc: Float32Array, [n, h, w, c]: [number, number, number, number]): Float32Array {
  const out = new Float32Array(nhwc.length);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let k = 0; k < c; k++) out[((b * c + k) * h + y) * w + x] = nhwc[((b * h + y) * w + x) * c + k]!;
      }
    }
  }
  return out;
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/**
 * A hand-written Keras 2.2.4-style model.json (the format of the real ResNet50): input [4, 4, 3] → 1×1 Conv2D(2,
 * relu) → GlobalAveragePooling2D "avg_pool" → Dense(3, softmax) "fc". Weights are simple known numbers.
 */
export function writeTinyKerasModel(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const layer = (name: string, className: string, config: object, inbound: string | null) => ({
    name,
    class_name: className,
    config: { name, ...config },
    inbound_nodes: inbound ? [[[inbound, 0, 0, {}]]] : [],
  });
  const layers = [
    layer('input_1', 'InputLayer', { batch_input_shape: [null, 4, 4, 3], dtype: 'float32' }, null),
    layer(
      'conv',
      'Conv2D',
      {
        filters: 2,
        kernel_size: [1, 1],
        strides: [1, 1],
        padding: 'valid',
        data_format: 'channels_last',
        dilation_rate: [1, 1],
        activation: 'relu',
        use_bias: true,
      },
      'input_1',
    ),
    layer('avg_pool', 'GlobalAveragePooling2D', { data_format: 'channels_last' }, 'conv'),
    layer('fc', 'Dense', { units: 3, activation: 'softmax', use_bias: true }, 'avg_pool'),
  ];
  const weights = [
    { name: 'conv/kernel', shape: [1, 1, 3, 2], values: [1, 0, 0, 1, 0, 0] },
    { name: 'conv/bias', shape: [2], values: [0, 0.5] },
    { name: 'fc/kernel', shape: [2, 3], values: [1, 0, -1, 0, 1, 1] },
    { name: 'fc/bias', shape: [3], values: [0, 0, 0] },
  ];
  const json = {
    format: 'layers-model',
    generatedBy: 'keras v2.2.4-tf',
    convertedBy: 'hand-written test fixture',
    modelTopology: {
      keras_version: '2.2.4-tf',
      backend: 'tensorflow',
      model_config: {
        class_name: 'Model',
        config: { name: 'tiny', layers, input_layers: [['input_1', 0, 0]], output_layers: [['fc', 0, 0]] },
      },
    },
    weightsManifest: [
      {
        paths: ['group1-shard1of1.bin'],
        weights: weights.map(({ name, shape }) => ({ name, shape, dtype: 'float32' })),
      },
    ],
  };
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
  fs.writeFileSync(
    path.join(dir, 'group1-shard1of1.bin'),
    Buffer.from(Float32Array.from(weights.flatMap((w) => w.values)).buffer),
  );
}
