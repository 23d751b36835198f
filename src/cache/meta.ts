/**
 * cache.json: what the embeddings in a cache directory were made with. One cache holds one model and one
 * preprocessing; opening it with anything else is refused rather than namespaced, so a cache directory always
 * means one embedding space and `cache export` or `fit-linear` can never mix two.
 */
import { param } from '../util/params';
import * as path from 'path';
import { writeFileAtomicSync } from '../util/atomic';
import { ConvfeatError } from '../util/errors';
import { integerInRange, nonEmptyString } from '../util/validate';
import { readTextIfExists } from '../util/readText';

export const CACHE_FORMAT = 'convfeat-embedding-cache';
export const CACHE_VERSION = 1;
export const META_FILE = 'cache.json';

/** The embedding space: which network, which preprocessing, how many numbers per image. */
export interface CacheIdentity {
  model: string;
  modelFingerprint: string;
  preprocessFingerprint: string;
  dim: number;
}

export interface CacheMeta extends CacheIdentity {
  format: typeof CACHE_FORMAT;
  version: number;
  created: string;
}

export function checkIdentity(identity: CacheIdentity): CacheIdentity {
  nonEmptyString('model', identity?.model);
  nonEmptyString('modelFingerprint', identity.modelFingerprint);
  nonEmptyString('preprocessFingerprint', identity.preprocessFingerprint);
  integerInRange('dim', identity.dim, 1, 1 << 20);
  return identity;
}

export function readMeta(dir: string): CacheMeta | undefined {
  const file = path.join(dir, META_FILE);
  const text = readTextIfExists(file);
  if (text === undefined) return undefined;
  let meta: Partial<CacheMeta>;
  try {
    meta = JSON.parse(text) as Partial<CacheMeta>;
  } catch {
    throw new ConvfeatError(`${file} is not valid JSON; this directory is not a usable convfeat cache.`);
  }
  if (meta.format !== CACHE_FORMAT || typeof meta.version !== 'number') {
    throw new ConvfeatError(`${file} is not a convfeat cache description; use another ${param('cacheDir')} directory.`);
  }
  if (meta.version > CACHE_VERSION) {
    throw new ConvfeatError(
      `The cache ${dir} was written by a newer convfeat (format ${meta.version}); upgrade convfeat to read it.`,
    );
  }
  if (
    typeof meta.model !== 'string' ||
    typeof meta.modelFingerprint !== 'string' ||
    typeof meta.preprocessFingerprint !== 'string' ||
    !Number.isInteger(meta.dim)
  ) {
    throw new ConvfeatError(`${file} lacks model, fingerprints or dim; this directory is not a usable convfeat cache.`);
  }
  return meta as CacheMeta;
}

export function writeMeta(dir: string, identity: CacheIdentity): CacheMeta {
  const meta: CacheMeta = {
    format: CACHE_FORMAT,
    version: CACHE_VERSION,
    model: identity.model,
    modelFingerprint: identity.modelFingerprint,
    preprocessFingerprint: identity.preprocessFingerprint,
    dim: identity.dim,
    created: new Date().toISOString(),
  };
  writeFileAtomicSync(path.join(dir, META_FILE), JSON.stringify(meta, null, 2) + '\n');
  return meta;
}

const short = (fp: string): string => fp.slice(0, 12);

/** Throws the sentence that tells the user why this cache cannot take these embeddings. */
export function assertSameSpace(have: CacheIdentity, want: CacheIdentity): void {
  if (have.modelFingerprint !== want.modelFingerprint) {
    throw new ConvfeatError(
      `This cache holds embeddings from model ${have.model} (fingerprint ${short(have.modelFingerprint)}), not ${want.model} ` +
        `(fingerprint ${short(want.modelFingerprint)}); use another ${param('cacheDir')} directory or ${param('model')} ${have.model}.`,
    );
  }
  if (have.preprocessFingerprint !== want.preprocessFingerprint) {
    throw new ConvfeatError(
      `This cache holds embeddings from model ${have.model} made with other preprocessing (fingerprint ${short(have.preprocessFingerprint)}, ` +
        `now ${short(want.preprocessFingerprint)}); use another ${param('cacheDir')} directory or the preprocessing options it was made with.`,
    );
  }
  if (have.dim !== want.dim) {
    throw new ConvfeatError(
      `This cache holds ${have.dim}-dimensional embeddings from model ${have.model}, not ${want.dim}-dimensional ones; use another ${param('cacheDir')} directory.`,
    );
  }
}

export function sameSpace(a: CacheIdentity, b: CacheIdentity): boolean {
  return (
    a.modelFingerprint === b.modelFingerprint && a.preprocessFingerprint === b.preprocessFingerprint && a.dim === b.dim
  );
}
