/**
 * From what the user names (`--model resnet50` or `--model my.onnx`, optional `--layer`) to a ready feature
 * extractor: resolve or fetch the file, cut the head, fingerprint the cut graph, attach the model's preprocessing,
 * and open an onnxruntime session on the requested device.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { BackboneIdentity, EmbeddingBackbone } from './runtime/extractor';
import {
  preprocessFingerprint,
  TORCHVISION_IMAGENET,
  KERAS_CAFFE,
  outputSize,
  type ExifMode,
  type PreprocessSpec,
} from '../preprocess/spec';
import { validateSpec } from '../preprocess/options';
import { ConvfeatError, UsageError } from '../util/errors';
import { nonEmptyString } from '../util/validate';
import { encodeModel, loadModel } from './graph/proto';
import { writeFileAtomicSync } from '../util/atomic';
import { canonicalJson, sha256Hex } from '../util/hash';
import { cutAtEmbedding } from './graph/cut';
import { modelFingerprint } from './graph/fingerprint';
import { createSession, cudaUnavailableReason, parseDevice, runBatch, type SessionHandle } from './runtime/session';
import { defaultManifestPath, defaultStoreDir, fetchModel, loadManifest, type ModelEntry } from './store';
import {
  int8Cut,
  modelNameWithPrecision,
  splitModelPrecision,
  userRangeTablePath,
  type Int8Summary,
  type Precision,
} from './quantize/variant';
import { classicalEmbedder, isClassicalRequest, resolveClassical, type ClassicalModel } from './classical';

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

export interface PreparedBackbone {
  /** Manifest name, or the file name without extension for user models. */
  name: string;
  file: string;
  entry?: ModelEntry;
  /** The cut graph's bytes (read on first use: a fully cached extraction never needs them). */
  cutBytes(): Uint8Array;
  fingerprint: string;
  /** Embedding size when the graph's shapes tell; otherwise found by running one image. */
  dim: number | null;
  layer: string;
  tensor: string;
  spec: PreprocessSpec;
  precision: Precision;
  /** For int8: how many nodes were quantised and which stayed fp32. */
  int8?: Int8Summary;
  /** Set for hand-engineered features (classical:hog, …): no ONNX graph, computed in TypeScript/OpenCV. */
  classical?: ClassicalModel;
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
      `Expected --preprocess to be one of ${Object.keys(PREPROCESS_PRESETS).join(', ')} or a JSON file but received ${JSON.stringify(option)}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(option, 'utf8'));
  } catch (e) {
    throw new UsageError(`--preprocess ${option} is not valid JSON (${(e as Error).message}).`);
  }
  return validateSpec(parsed, `--preprocess ${option}`);
}

function prepareClassical(req: BackboneRequest): PreparedBackbone {
  const m = resolveClassical(req.model);
  if (req.layer !== undefined) throw new UsageError(`--layer applies to ONNX models; ${m.name} has no layers to cut.`);
  if (req.preprocess !== undefined) {
    throw new UsageError(`--preprocess applies to your own ONNX files; ${m.name} carries its own preprocessing.`);
  }
  return {
    name: m.name,
    file: m.file ?? m.name,
    spec: m.spec,
    fingerprint: m.fingerprint,
    dim: m.dim,
    layer: m.kind,
    tensor: 'features',
    classical: m,
    precision: 'fp32',
    cutBytes: () => {
      throw new ConvfeatError(
        `${m.name} is a hand-engineered feature extractor, not an ONNX graph, so it cannot be fused into an ONNX export; score images with convfeat predict instead.`,
      );
    },
  };
}

export async function prepareBackbone(request: BackboneRequest): Promise<PreparedBackbone> {
  nonEmptyString('--model', request.model);
  if (isClassicalRequest(request.model)) {
    if (request.precision === 'int8')
      throw new UsageError(`--precision int8 applies to ONNX backbones; ${request.model} has no network to quantise.`);
    return prepareClassical(request);
  }
  const named = splitModelPrecision(request.model);
  if (named.precision && request.precision && named.precision !== request.precision) {
    throw new UsageError(
      `--model ${request.model} names precision ${named.precision} but --precision is ${request.precision}; drop one of them.`,
    );
  }
  const precision = named.precision ?? request.precision ?? 'fp32';
  const req = { ...request, model: named.model };
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
        `--preprocess applies to your own ONNX files; ${name} carries its own preprocessing in onnx/models.json.`,
      );
    }
    const fetched = await fetchModel(name, { storeDir: modelStoreDir(req.storeDir), log: req.log });
    file = fetched.file;
    spec = entry.preprocess;
    if (layer === undefined && entry.embedding.layer) layer = entry.embedding.layer;
  } else if (looksLikeFile(req.model)) {
    file = path.resolve(req.model);
    if (!fs.existsSync(file)) {
      throw new UsageError(
        `--model ${req.model} is neither a known model (convfeat models list) nor an existing .onnx file.`,
      );
    }
    name = path.basename(file).replace(/\.onnx$/i, '');
    spec = userPreprocess(req.preprocess);
  } else {
    throw new UsageError(
      `Expected --model to be one of ${Object.keys(manifest.models).join(', ')} or a path to an .onnx file but received ${JSON.stringify(req.model)}`,
    );
  }
  if (!outputSize(spec)) {
    throw new UsageError('The preprocessing gives images of varying size; a backbone needs a crop or an exact resize.');
  }
  const cut = cutOnce(file, layer, modelStoreDir(req.storeDir), name);
  if (precision === 'fp32') return { name, file, entry, spec, precision, ...cut };
  const tableFile = int8TablePath(entry, file, modelStoreDir(req.storeDir));
  const q = int8Cut({
    name,
    fp32Fingerprint: cut.fingerprint,
    fp32Bytes: cut.cutBytes,
    tableFile,
    storeDir: modelStoreDir(req.storeDir),
    log: req.log,
  });
  return {
    name: modelNameWithPrecision(name, 'int8'),
    file,
    entry,
    spec,
    precision,
    int8: q.summary,
    dim: cut.dim,
    layer: cut.layer,
    tensor: cut.tensor,
    fingerprint: q.fingerprint,
    cutBytes: q.cutBytes,
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

/** Models smaller than this are cut on every run (milliseconds) instead of being kept in <store>/cut/. */
const CUT_CACHE_MIN_BYTES = 8 * 1024 * 1024;

interface CutRecord {
  fingerprint: string;
  dim: number | null;
  layer: string;
  tensor: string;
  /** The source file and requested layer, so an outdated cut of the same source can be removed. */
  source?: string;
  requestedLayer?: string | null;
}

/** Removes cuts of `source` at `layer` other than `keep` (the file changed since): each is ~the model's size. */
function removeOutdatedCuts(dir: string, source: string, layer: string | null, keep: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith('.json'));
  } catch {
    return;
  }
  for (const name of names) {
    const base = path.join(dir, name.slice(0, -'.json'.length));
    if (base === keep) continue;
    try {
      const other = JSON.parse(fs.readFileSync(`${base}.json`, 'utf8')) as CutRecord;
      if (other.source === source && (other.requestedLayer ?? null) === layer) {
        fs.rmSync(`${base}.json`, { force: true });
        fs.rmSync(`${base}.onnx`, { force: true });
      }
    } catch {
      // unreadable record: leave it
    }
  }
}

/**
 * Cutting ResNet50 means decoding, pruning and re-encoding 100 MB; the result is kept in <store>/cut/, keyed by the
 * source file (path, size, mtime) and the requested layer, so later runs only read a small JSON record.
 */
function cutOnce(
  file: string,
  layer: string | undefined,
  storeDir: string,
  name: string,
): CutRecord & { cutBytes(): Uint8Array } {
  const stat = fs.statSync(file);
  // ctime cannot be set back by `touch -r` or copy tools that preserve mtime, so a changed file always misses.
  const key = sha256Hex(
    canonicalJson({
      v: 2,
      file,
      size: stat.size,
      mtimeMs: stat.mtimeMs,
      ctimeMs: stat.ctimeMs,
      ino: stat.ino,
      layer: layer ?? null,
    }),
  ).slice(0, 16);
  const base = path.join(storeDir, 'cut', `${name.replace(/[^A-Za-z0-9._-]/g, '_')}-${key}`);
  const lazyRead = (): (() => Uint8Array) => {
    let bytes: Uint8Array | undefined;
    return () => (bytes ??= fs.readFileSync(`${base}.onnx`));
  };
  const worthKeeping = stat.size >= CUT_CACHE_MIN_BYTES;
  try {
    if (!worthKeeping) throw new Error('small model: cutting is cheaper than caching');
    const record = JSON.parse(fs.readFileSync(`${base}.json`, 'utf8')) as CutRecord;
    if (typeof record.fingerprint === 'string' && fs.existsSync(`${base}.onnx`))
      return { ...record, cutBytes: lazyRead() };
  } catch {
    // not cut yet (or a damaged record): cut below
  }
  const cut = cutAtEmbedding(loadModel(file), {
    ...(layer !== undefined ? { layer } : {}),
    source: path.basename(file),
  });
  const bytes = encodeModel(cut.model);
  const record: CutRecord = {
    fingerprint: modelFingerprint(bytes),
    dim: cut.embedding.dim,
    layer: cut.embedding.layer,
    tensor: cut.embedding.tensor,
    source: file,
    requestedLayer: layer ?? null,
  };
  if (!worthKeeping) return { ...record, cutBytes: () => bytes };
  try {
    // The model before its record: a record always points at a complete file.
    writeFileAtomicSync(`${base}.onnx`, bytes);
    writeFileAtomicSync(`${base}.json`, `${JSON.stringify(record)}\n`);
    removeOutdatedCuts(path.dirname(base), file, layer ?? null, base);
  } catch {
    // A read-only store: cut again next time.
  }
  return { ...record, cutBytes: () => bytes };
}

export interface OpenOptions {
  device?: string;
  threads?: number;
  exif?: ExifMode;
  maxPixels?: number;
  log?: (line: string) => void;
}

export interface OpenBackbone extends EmbeddingBackbone {
  prepared: PreparedBackbone;
  /** The onnxruntime session, created on first use. */
  session(): Promise<SessionHandle>;
  fallbackReason?: string;
  close(): Promise<void>;
}

/**
 * Opens a prepared backbone for extraction. The onnxruntime session (a second or two for ResNet50) is created on
 * the first batch when the provider is already certain, so a run served entirely from the cache never pays for it.
 */
async function openClassical(prepared: PreparedBackbone, opts: OpenOptions): Promise<OpenBackbone> {
  const m = prepared.classical!;
  if (parseDevice(opts.device ?? 'auto').kind === 'cuda') {
    throw new UsageError(
      `--device cuda: ${m.name} is computed on the CPU (hand-engineered features); use --device cpu or auto.`,
    );
  }
  const embed = await classicalEmbedder(m);
  const exif = opts.exif ?? 'apply';
  return {
    prepared,
    identity: {
      model: m.name,
      modelFingerprint: m.fingerprint,
      preprocessFingerprint: preprocessFingerprint({ spec: m.spec, exif }),
      dim: m.dim,
    },
    transform: { spec: m.spec, exif, ...(opts.maxPixels !== undefined ? { maxPixels: opts.maxPixels } : {}) },
    provider: 'cpu',
    session: () => Promise.reject(new ConvfeatError(`${m.name} has no onnxruntime session.`)),
    embed,
    close: async () => embed.close(),
  };
}

export async function openBackbone(prepared: PreparedBackbone, opts: OpenOptions = {}): Promise<OpenBackbone> {
  if (prepared.classical) return openClassical(prepared, opts);
  const device = parseDevice(opts.device ?? 'auto');
  const threads = opts.threads;
  const size = outputSize(prepared.spec)!;
  const expected = prepared.spec.layout === 'NCHW' ? [3, size.height, size.width] : [size.height, size.width, 3];
  const cudaProblem = device.kind === 'cpu' ? null : cudaUnavailableReason();
  const certainCpu = device.kind === 'cpu' || (device.kind === 'auto' && cudaProblem !== null);
  let fallbackReason: string | undefined;
  if (device.kind === 'auto' && cudaProblem !== null) {
    fallbackReason = cudaProblem;
    opts.log?.(`--device auto: using CPU because ${cudaProblem}.`);
  }

  let handle: SessionHandle | undefined;
  const open = async (): Promise<SessionHandle> => {
    if (handle) return handle;
    handle = await createSession(prepared.cutBytes(), {
      device: certainCpu ? 'cpu' : (opts.device ?? 'auto'),
      ...(threads !== undefined ? { threads } : {}),
      log: opts.log,
    });
    const declared = handle.inputShape.slice(1);
    if (declared.every((d) => typeof d === 'number') && declared.join(',') !== expected.join(',')) {
      throw new ConvfeatError(
        `${prepared.name} takes images of [${declared.join(', ')}] but its preprocessing makes [${expected.join(', ')}]; fix the preprocessing (--preprocess) to match the model.`,
      );
    }
    return handle;
  };

  let dim = prepared.dim;
  if (dim === null || !certainCpu) {
    const h = await open();
    if (h.fallbackReason !== undefined) fallbackReason = h.fallbackReason;
    if (dim === null)
      dim = (await runBatch(h, new Float32Array(expected[0]! * expected[1]! * expected[2]!), 1, expected)).length;
  }
  const provider = handle ? (handle.provider === 'cuda' ? `cuda:${handle.deviceId ?? 0}` : 'cpu') : 'cpu';
  const exif = opts.exif ?? 'apply';
  const identity: BackboneIdentity = {
    model: prepared.name,
    modelFingerprint: prepared.fingerprint,
    preprocessFingerprint: preprocessFingerprint({ spec: prepared.spec, exif }),
    dim,
  };
  return {
    prepared,
    identity,
    transform: { spec: prepared.spec, exif, ...(opts.maxPixels !== undefined ? { maxPixels: opts.maxPixels } : {}) },
    provider,
    ...(fallbackReason !== undefined ? { fallbackReason } : {}),
    session: open,
    embed: async (batch: Float32Array, n: number) => runBatch(await open(), batch, n, expected),
    close: async () => {
      if (handle) await handle.session.release();
      handle = undefined;
    },
  };
}
