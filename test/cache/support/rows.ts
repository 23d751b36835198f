import { createHash } from 'crypto';
import type { CacheIdentity } from '../../../src/cache/meta';

export const IDENTITY: CacheIdentity = {
  model: 'tiny',
  modelFingerprint: 'a'.repeat(64),
  preprocessFingerprint: 'p0',
  dim: 8,
};

export function hashOf(key: string | number): string {
  return createHash('sha256').update(`img-${key}`).digest('hex');
}

/** Deterministic embedding of a hash; the crash child (crash-child.js) computes the same numbers. */
export function rowFor(hash: string, dim: number): Float32Array {
  const seed = Number.parseInt(hash.slice(0, 8), 16);
  const row = new Float32Array(dim);
  for (let j = 0; j < dim; j++) row[j] = (((seed % 100003) * (j + 1)) % 9973) / 97 - 50;
  return row;
}

export function rowsFor(hashes: readonly string[], dim: number): Float32Array {
  const out = new Float32Array(hashes.length * dim);
  hashes.forEach((h, i) => out.set(rowFor(h, dim), i * dim));
  return out;
}
