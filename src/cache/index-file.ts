/**
 * The lines of DIR/index.jsonl. Two kinds, appended together by one write:
 *
 *   {"s":"s000012.npy","n":8,"sha256":"…"}        a shard record: its row count and the sha256 of the whole file
 *   {"h":"<sha256 of image>","s":"s000012.npy","r":3}   a row: image hash → row of a shard
 *
 * A row line may carry "o":1: it replaces an earlier row of the same hash that was found unusable (a non-finite
 * embedding). Otherwise the first usable line of a hash wins. Readers older than shard records skip those lines
 * (they have no "h"), so old and new convfeat read each other's caches.
 */
import { isContentHash } from './hash-key';

export const SHARD_NAME = /^s(\d{6,})\.npy$/;
const SHA256 = /^[0-9a-f]{64}$/;
// The exact text this module writes; anything else takes the slower JSON.parse path.
const FAST_ROW = /^\{"h":"([0-9a-f]{64})","s":"(s\d{6,}\.npy)","r":(\d{1,15})(,"o":1)?\}$/;

export type IndexLine =
  | { kind: 'row'; hash: string; shard: string; row: number; replaces: boolean }
  | { kind: 'shard'; shard: string; rows: number; sha256: string };

export function rowLine(hash: string, shard: string, row: number, replaces = false): string {
  return `{"h":"${hash}","s":"${shard}","r":${row}${replaces ? ',"o":1' : ''}}\n`;
}

export function shardLine(shard: string, rows: number, sha256: string): string {
  return JSON.stringify({ s: shard, n: rows, sha256 }) + '\n';
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** One line parsed, or undefined for a torn or foreign line (ignored, like every unknown line). */
export function parseIndexLine(line: string): IndexLine | undefined {
  const fast = FAST_ROW.exec(line);
  if (fast) return { kind: 'row', hash: fast[1]!, shard: fast[2]!, row: Number(fast[3]), replaces: !!fast[4] };
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (!v || typeof v !== 'object' || typeof v.s !== 'string' || !SHARD_NAME.test(v.s)) return undefined;
  if (v.h !== undefined) {
    if (!isContentHash(v.h) || !isCount(v.r)) return undefined;
    return { kind: 'row', hash: v.h, shard: v.s, row: v.r, replaces: v.o === 1 };
  }
  if (!isCount(v.n) || typeof v.sha256 !== 'string' || !SHA256.test(v.sha256)) return undefined;
  return { kind: 'shard', shard: v.s, rows: v.n, sha256: v.sha256 };
}
