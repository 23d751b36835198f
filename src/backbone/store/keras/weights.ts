/**
 * Reads a TF.js layers-model folder: model.json (Keras topology + weightsManifest) and its binary weight shards.
 * Each manifest group is a list of shard files whose bytes, concatenated, hold the group's weights back to back in
 * manifest order (the TF.js converter's layout), so a weight's offset is the sum of the byte sizes before it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ConvfeatError } from '../../../util/errors';

export interface KerasWeight {
  /** Manifest name, e.g. "conv1/kernel". */
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface TfjsLayersModel {
  /** Folder the model was read from (shown in error messages). */
  dir: string;
  format: string;
  generatedBy: string;
  convertedBy: string;
  /** Keras `model_config` ({class_name, config}). */
  modelConfig: { class_name: string; config: unknown };
  kerasVersion: string;
  weights: Map<string, KerasWeight>;
}

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: unknown;
}

interface ManifestGroup {
  paths: string[];
  weights: WeightSpec[];
}

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConvfeatError(
      code === 'ENOENT'
        ? `${what} ${file} does not exist; point the converter at a TF.js layers-model folder that contains model.json.`
        : `Cannot read ${what} ${file} (${code ?? (e as Error).message}).`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConvfeatError(
      `${what} ${file} is not valid JSON (${(e as Error).message}); the download may be truncated.`,
    );
  }
}

function readShards(dir: string, paths: string[]): Buffer {
  const parts = paths.map((p) => {
    const file = path.join(dir, p);
    try {
      return fs.readFileSync(file);
    } catch (e) {
      throw new ConvfeatError(
        `Weight shard ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); the TF.js model folder is incomplete.`,
      );
    }
  });
  return Buffer.concat(parts);
}

/** Loads model.json and every float32 weight it lists; anything quantized or non-float is refused up front. */
export function readTfjsLayersModel(dir: string): TfjsLayersModel {
  const modelJsonPath = path.join(dir, 'model.json');
  const json = readJson(modelJsonPath, 'TF.js model file') as Record<string, unknown>;
  const topology = json.modelTopology as Record<string, unknown> | undefined;
  if (!topology || typeof topology !== 'object') {
    throw new ConvfeatError(
      `${modelJsonPath} has no modelTopology; it is not a TF.js layers model (graph models cannot be converted).`,
    );
  }
  if (json.format !== undefined && json.format !== 'layers-model') {
    throw new ConvfeatError(
      `${modelJsonPath} is a TF.js "${String(json.format)}", not a layers-model; only Keras layers models can be converted.`,
    );
  }
  // Keras 2 writes {keras_version, backend, model_config}; older TF.js exports put the config at the top level.
  const modelConfig = (topology.model_config ?? topology) as { class_name: string; config: unknown };
  if (typeof modelConfig.class_name !== 'string') {
    throw new ConvfeatError(`${modelJsonPath} has no Keras model_config; it is not a TF.js layers model.`);
  }
  const manifest = json.weightsManifest as ManifestGroup[] | undefined;
  if (!Array.isArray(manifest)) {
    throw new ConvfeatError(`${modelJsonPath} has no weightsManifest; the model folder is incomplete.`);
  }

  const weights = new Map<string, KerasWeight>();
  for (const group of manifest) {
    const bytes = readShards(dir, group.paths ?? []);
    let offset = 0;
    for (const spec of group.weights ?? []) {
      if (spec.dtype !== 'float32' || spec.quantization !== undefined) {
        const kind = spec.quantization !== undefined ? 'quantized' : spec.dtype;
        throw new ConvfeatError(
          `Weight ${spec.name} in ${modelJsonPath} is ${kind}; only float32 TF.js weights can be converted (re-export the model without quantization).`,
        );
      }
      const count = spec.shape.reduce((a, b) => a * b, 1);
      const byteLength = count * 4;
      if (offset + byteLength > bytes.length) {
        throw new ConvfeatError(
          `Weight shards of ${modelJsonPath} end after ${bytes.length} bytes but weight ${spec.name} needs bytes up to ${offset + byteLength}; the shards are truncated.`,
        );
      }
      // Copy into an aligned buffer: shard offsets need not be multiples of 4 inside Buffer's shared pool.
      const data = new Float32Array(count);
      new Uint8Array(data.buffer).set(bytes.subarray(offset, offset + byteLength));
      weights.set(spec.name, { name: spec.name, shape: [...spec.shape], data });
      offset += byteLength;
    }
    if (offset !== bytes.length) {
      throw new ConvfeatError(
        `Weight shards of ${modelJsonPath} hold ${bytes.length} bytes but the manifest describes ${offset}; the shards do not match model.json.`,
      );
    }
  }

  return {
    dir,
    format: String(json.format ?? 'layers-model'),
    generatedBy: String(json.generatedBy ?? ''),
    convertedBy: String(json.convertedBy ?? ''),
    modelConfig,
    kerasVersion: String(topology.keras_version ?? ''),
    weights,
  };
}

/**
 * Finds a layer's parameter. TF.js manifests name weights "layer/param", sometimes under an outer scope
 * ("model/layer/param") or with a ":0" suffix, so an exact match is tried first, then a unique suffix match.
 */
export function findWeight(weights: Map<string, KerasWeight>, layer: string, param: string): KerasWeight | undefined {
  const exact = weights.get(`${layer}/${param}`) ?? weights.get(`${layer}/${param}:0`);
  if (exact) return exact;
  const suffix = `/${layer}/${param}`;
  const matches = [...weights.values()].filter((w) => w.name.endsWith(suffix) || w.name.endsWith(`${suffix}:0`));
  return matches.length === 1 ? matches[0] : undefined;
}
