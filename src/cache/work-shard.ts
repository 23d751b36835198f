/**
 * `--shard i/n`: split one extraction across n machines by content hash, so every image lands in exactly one part
 * whichever machine scans the folder, and duplicate images land together. Indices are 0-based, like a Kubernetes
 * Indexed Job's JOB_COMPLETION_INDEX (0..n-1), so `--shard $JOB_COMPLETION_INDEX/n` works as is.
 */
import { integerInRange, invalid } from '../util/validate';
import { isContentHash } from './store';
import { param } from '../util/params';

export interface WorkShard {
  index: number;
  count: number;
}

const MAX_SHARDS = 1_000_000;

export function parseShard(text: unknown, name = param('shard')): WorkShard {
  const expected = `i/n with integers 0 ≤ i < n ≤ ${MAX_SHARDS} (0-based, like JOB_COMPLETION_INDEX)`;
  const m = typeof text === 'string' ? /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text) : null;
  if (!m) throw invalid(name, expected, text);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || count > MAX_SHARDS || index >= count) throw invalid(name, expected, text);
  return { index, count };
}

/** The part a content hash belongs to: its first 32 bits modulo n (sha256 bits are uniform). */
export function shardOfHash(hash: string, count: number): number {
  if (!isContentHash(hash)) throw invalid('hash', 'a lowercase sha256 hex string of 64 characters', hash);
  return Number.parseInt(hash.slice(0, 8), 16) % count;
}

/** A predicate keeping the hashes of part `index` of `count` (as parsed by parseShard). */
export function shardFilter(index: number, count: number): (hash: string) => boolean {
  integerInRange('shard count', count, 1, MAX_SHARDS);
  integerInRange('shard index', index, 0, count - 1);
  return (hash) => shardOfHash(hash, count) === index;
}
