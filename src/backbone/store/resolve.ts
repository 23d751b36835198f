/**
 * Name resolution: from what the user names (`--model resnet50`, `--model my.onnx`, `resnet50@int8`,
 * `classical:hog`, with optional `--layer`, `--preprocess`, `--precision`) to one model file with its preprocessing,
 * the layer to cut at and the precision. Manifest models are fetched (or converted) into the store here; a user's
 * .onnx file gets a preset or a JSON PreprocessSpec. Nothing is cut or opened here (graph/cutCache, runtime/open).
 */
import * as fs from 'fs';
import * as path from 'path';
import { TORCHVISION_IMAGENET, KERAS_CAFFE, outputSize, type PreprocessSpec } from '../../preprocess/spec';
import { validateSpec } from '../../preprocess/options';
import { UsageError } from '../../util/errors';
import { nonEmptyString } from '../../util/validate';
import { param } from '../../util/params';
import { splitModelPrecision, userRangeTablePath, type Precision } from '../quantize/variant';
import { isClassicalRequest, resolveClassical, type ClassicalModel } from '../classical';
import { fetchModel } from './fetch';
import { defaultManifestPath, defaultStoreDir, loadManifest, type ModelEntry } from './manifest';

export const PREPROCESS_PRESETS: Record<string, PreprocessSpec> = {
  torchvision: TORCHVISION_IMAGENET,
  caffe: KERAS_CAFFE,
};

export interface BackboneRequest {
  /** A manifest name (`convfeat models list`) or a path to an ONNX image classifier. */
  model: string;
  /** Cut at this node or tensor instead of the input of the last fully connected layer. */
  layer?: string;
  /** Preprocessing for a user ONNX file: a preset name (torchvision, caffe) or a JSON file with a PreprocessSpec. */
  preprocess?: string;
  /** Where manifest models are stored (default: the package's onnx/ folder, or CONVFEAT_MODEL_DIR). */
  storeDir?: string;
  /** fp32 (default; reproduces PyTorch) or int8 (the model quantised with its range table). `--model NAME@int8` too. */
  precision?: Precision;
  log?: (line: string) => void;
}

export function modelStoreDir(explicit?: string): string {
  return explicit ?? process.env.CONVFEAT_MODEL_DIR ?? defaultStoreDir();
}

function looksLikeFile(model: string): boolean {
  return model.endsWith('.onnx') || model.includes('/') || model.includes(path.sep) || fs.existsSync(model);
}

function userPreprocess(option: string | undefined): PreprocessSpec {
  if (option === undefined) return TORCHVISION_IMAGENET;
  const preset = PREPROCESS_PRESETS[option];
  if (preset) return preset;
  if (!fs.existsSync(option)) {
    throw new UsageError(
      `Expected ${param('preprocess')} to be one of ${Object.keys(PREPROCESS_PRESETS).join(', ')} or a JSON file but received ${JSON.stringify(option)}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(option, 'utf8'));
  } catch (e) {
    throw new UsageError(`${param('preprocess')} ${option} is not valid JSON (${(e as Error).message}).`);
  }
  return validateSpec(parsed, `${param('preprocess')} ${option}`);
}

/** A request resolved to an ONNX file (fetched when it is a manifest model), or to a classical feature extractor. */
export type ResolvedBackbone =
  | { kind: 'classical'; model: ClassicalModel }
  | {
      kind: 'onnx';
      /** Manifest name, or the file name without extension for user models. */
      name: string;
      file: string;
      entry?: ModelEntry;
      spec: PreprocessSpec;
      /** The layer asked for, else the manifest entry's embedding layer; undefined: the cutter's default. */
      layer?: string;
      precision: Precision;
      /** The model store this request uses (cut cache, int8 tables). */
      storeDir: string;
    };

function resolveClassicalRequest(req: BackboneRequest): ResolvedBackbone {
  if (req.precision === 'int8')
    throw new UsageError(
      `${param('precision')} int8 applies to ONNX backbones; ${req.model} has no network to quantise.`,
    );
  const m = resolveClassical(req.model);
  if (req.layer !== undefined)
    throw new UsageError(`${param('layer')} applies to ONNX models; ${m.name} has no layers to cut.`);
  if (req.preprocess !== undefined) {
    throw new UsageError(
      `${param('preprocess')} applies to your own ONNX files; ${m.name} carries its own preprocessing.`,
    );
  }
  return { kind: 'classical', model: m };
}

export async function resolveBackbone(request: BackboneRequest): Promise<ResolvedBackbone> {
  nonEmptyString(param('model'), request.model);
  if (isClassicalRequest(request.model)) return resolveClassicalRequest(request);
  const named = splitModelPrecision(request.model);
  if (named.precision && request.precision && named.precision !== request.precision) {
    throw new UsageError(
      `${param('model')} ${request.model} names precision ${named.precision} but ${param('precision')} is ${request.precision}; drop one of them.`,
    );
  }
  const precision = named.precision ?? request.precision ?? 'fp32';
  const req = { ...request, model: named.model };
  const storeDir = modelStoreDir(req.storeDir);
  let name: string;
  let file: string;
  let entry: ModelEntry | undefined;
  let spec: PreprocessSpec;
  let layer = req.layer;
  const manifest = loadManifest();
  if (Object.hasOwn(manifest.models, req.model)) {
    entry = manifest.models[req.model]!;
    name = req.model;
    if (req.preprocess !== undefined) {
      throw new UsageError(
        `${param('preprocess')} applies to your own ONNX files; ${name} carries its own preprocessing in onnx/models.json.`,
      );
    }
    const fetched = await fetchModel(name, { storeDir, log: req.log });
    file = fetched.file;
    spec = entry.preprocess;
    if (layer === undefined && entry.embedding.layer) layer = entry.embedding.layer;
  } else if (looksLikeFile(req.model)) {
    file = path.resolve(req.model);
    if (!fs.existsSync(file)) {
      throw new UsageError(
        `${param('model')} ${req.model} is neither a known model (convfeat models list) nor an existing .onnx file.`,
      );
    }
    name = path.basename(file).replace(/\.onnx$/i, '');
    spec = userPreprocess(req.preprocess);
  } else {
    throw new UsageError(
      `Expected ${param('model')} to be one of ${Object.keys(manifest.models).join(', ')} or a path to an .onnx file but received ${JSON.stringify(req.model)}`,
    );
  }
  if (!outputSize(spec)) {
    throw new UsageError('The preprocessing gives images of varying size; a backbone needs a crop or an exact resize.');
  }
  return {
    kind: 'onnx',
    name,
    file,
    ...(entry !== undefined ? { entry } : {}),
    spec,
    ...(layer !== undefined ? { layer } : {}),
    precision,
    storeDir,
  };
}

/**
 * Where a model's activation ranges live: the committed table beside the manifest when the entry has one (every user
 * gets the same int8 model), else the one `convfeat models quantize` wrote: `<store>/<name>.int8.json` for other
 * manifest models, `<file>.int8.json` beside a user's .onnx file.
 */
export function int8TablePath(entry: ModelEntry | undefined, file: string, storeDir: string): string {
  if (entry?.int8) return path.join(path.dirname(defaultManifestPath()), entry.int8.ranges);
  if (entry) return path.join(storeDir, `${entry.name}.int8.json`);
  return userRangeTablePath(file);
}
