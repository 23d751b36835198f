const HASH = /^[0-9a-f]{64}$/;

/** A content hash as the cache keys it: the lowercase hex sha256 of an image's bytes. */
export function isContentHash(value: unknown): value is string {
  return typeof value === 'string' && HASH.test(value);
}
