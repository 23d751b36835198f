/**
 * Nearest neighbours of one image among a cache's embeddings. The query is found by path in the cache's listing,
 * else by the sha256 of its bytes in the store (the same photo under another name), else embedded on the fly with
 * the backbone that made the cache (same model fingerprint and preprocessing, or a sentence saying what differs).
 */
import * as fs from 'fs';
import * as path from 'path';
import { openBackbone, prepareBackbone } from '../backbone/load';
import { EmbeddingStore, loadSplit, readListing, readMeta } from '../cache';
import { preprocessDetailed } from '../preprocess';
import { preprocessFingerprint } from '../preprocess/spec';
import { ConvfeatError, UsageError } from '../util/errors';
import { sha256Hex } from '../util/hash';
import { integerInRange, nonEmptyString } from '../util/validate';
import { normalizeRows, searchNearest } from './search';
import { indexedNearest, SIMILAR_INDEX_MIN_ROWS } from './vectorIndex';
import { param } from '../util/params';

export interface SimilarOptions {
  k?: number;
  /** The ONNX file, when the cache was made from a user model rather than a known one. */
  model?: string;
  layer?: string;
  preprocess?: string;
  storeDir?: string;
  device?: string;
  /** Always scan every row, never the vector index. */
  exact?: boolean;
  /** Use the vector index from this many rows on (default SIMILAR_INDEX_MIN_ROWS). */
  indexMinRows?: number;
  log?: (line: string) => void;
}

export interface SimilarMatch {
  relPath: string;
  path: string;
  split?: string;
  label?: string;
  score: number;
}

export interface SimilarResult {
  query: string;
  /** How the query's embedding was obtained. */
  source: 'listed' | 'cached-bytes' | 'embedded';
  matches: SimilarMatch[];
}

/** Embeds one file with the backbone that made the cache, refusing a different one. */
async function embedWithCacheModel(
  file: string,
  bytes: Buffer,
  cacheDir: string,
  options: SimilarOptions,
): Promise<Float32Array> {
  const meta = readMeta(cacheDir);
  if (!meta)
    throw new ConvfeatError(`${cacheDir} is not a convfeat cache (no cache.json); run convfeat extract first.`);
  const prepared = await prepareBackbone({
    model: options.model ?? meta.model,
    ...(options.layer !== undefined ? { layer: options.layer } : {}),
    ...(options.preprocess !== undefined ? { preprocess: options.preprocess } : {}),
    ...(options.storeDir !== undefined ? { storeDir: options.storeDir } : {}),
    ...(options.log ? { log: options.log } : {}),
  }).catch((e: unknown) => {
    if (options.model === undefined && e instanceof UsageError)
      throw new ConvfeatError(
        `The cache was made with ${meta.model}, which is not a known model; pass the same ONNX file with ${param('model')} FILE.onnx to embed ${file}.`,
      );
    throw e;
  });
  if (prepared.fingerprint !== meta.modelFingerprint) {
    throw new ConvfeatError(
      `${param('model')} ${prepared.name} (fingerprint ${prepared.fingerprint.slice(0, 12)}) is not the backbone that made the cache (${meta.model}, ${meta.modelFingerprint.slice(0, 12)}); pass the same model and ${param('layer')}.`,
    );
  }
  const exif = (['apply', 'ignore'] as const).find(
    (mode) => preprocessFingerprint({ spec: prepared.spec, exif: mode }) === meta.preprocessFingerprint,
  );
  if (!exif) {
    throw new ConvfeatError(
      `The cache was made with other preprocessing than ${prepared.name} has now; extract a new cache to search it.`,
    );
  }
  let tensor: Float32Array;
  try {
    tensor = (await preprocessDetailed(bytes, { spec: prepared.spec, exif })).tensor;
  } catch (e) {
    if (e instanceof ConvfeatError)
      throw new ConvfeatError(`Cannot use ${file} as a query: ${e.message.replace(/\.$/, '')}.`);
    throw e;
  }
  const backbone = await openBackbone(prepared, { exif, ...(options.device ? { device: options.device } : {}) });
  try {
    return await backbone.embed(tensor, 1);
  } finally {
    await backbone.close();
  }
}

export async function similarImages(
  cacheDir: string,
  query: string,
  options: SimilarOptions = {},
): Promise<SimilarResult> {
  nonEmptyString('query', query);
  const k = integerInRange('-k', options.k ?? 10, 1, 10_000);
  const data = loadSplit(cacheDir);
  const resolved = path.resolve(query);
  let row = data.paths.findIndex((p) => path.resolve(p) === resolved);
  if (row < 0) row = data.relPaths.indexOf(query.split(path.sep).join('/'));
  let q: Float32Array;
  let source: SimilarResult['source'];
  if (row >= 0) {
    q = data.X.slice(row * data.dim, (row + 1) * data.dim);
    source = 'listed';
  } else {
    let bytes: Buffer;
    try {
      if (!fs.statSync(query).isFile()) throw new Error('not a file');
      bytes = fs.readFileSync(query);
    } catch {
      throw new UsageError(
        `The query ${query} is neither an image listed in the cache nor a readable file; check the path.`,
      );
    }
    const hash = sha256Hex(bytes);
    const store = EmbeddingStore.open(cacheDir, { mode: 'read' });
    let stored: Float32Array | undefined;
    try {
      stored = store.get(hash);
    } finally {
      store.close();
    }
    if (stored) {
      q = stored;
      source = 'cached-bytes';
    } else {
      q = await embedWithCacheModel(query, bytes, cacheDir, options);
      source = 'embedded';
    }
    row = -1;
  }
  const splitOf = new Map<string, string | undefined>();
  for (const e of readListing(cacheDir) ?? []) splitOf.set(e.relPath, e.split);
  const base = normalizeRows(data.X, data.dim);
  // The query itself (a listed row) is not its own neighbour.
  const qn = normalizeRows(q, data.dim);
  const kk = Math.min(k, data.y.length);
  // Large caches go through the vector index when it is usable; exact search is the fallback and the reference.
  const nb =
    (options.exact
      ? undefined
      : indexedNearest(
          cacheDir,
          { Xn: base, dim: data.dim, hashes: data.hashes, modelFingerprint: data.meta.modelFingerprint },
          qn,
          kk,
          row,
          {
            minRows: options.indexMinRows ?? SIMILAR_INDEX_MIN_ROWS,
            ...(options.log ? { log: options.log } : {}),
          },
        )) ?? searchNearest(qn, base, data.dim, kk, (_, j) => j === row);
  const matches: SimilarMatch[] = [];
  for (let t = 0; t < nb.k; t++) {
    const j = nb.indices[t]!;
    if (j < 0) break;
    const split = splitOf.get(data.relPaths[j]!);
    matches.push({
      relPath: data.relPaths[j]!,
      path: data.paths[j]!,
      ...(split !== undefined ? { split } : {}),
      ...(data.y[j]! >= 0 ? { label: data.classes[data.y[j]!] } : {}),
      score: nb.scores[t]!,
    });
  }
  return { query, source, matches };
}
