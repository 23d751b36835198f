/** The cache's key: an image's content hash, so a renamed or moved photo is found again and never embedded twice. */
const HASH = /^[0-9a-f]{64}$/;

/** A content hash as the cache keys it: the lowercase hex sha256 of an image's bytes. */
export function isContentHash(value: unknown): value is string {
  return typeof value === 'string' && HASH.test(value);
}
