/**
 * Where each stored row lives: content hash → (shard, row). A cache of 10 M images is indexed in memory, so the
 * table is lean: the key is the hash's 32 bytes as a latin1 string (a Map of 64-character hex keys and {shard, row}
 * objects takes more than 2 GiB at 10 M rows), and an entry's shard and row live in two typed arrays indexed by a
 * dense id. The store (store.ts) owns the files; this owns only the lookup.
 */
import { ConvfeatError } from '../util/errors';
import { param } from '../util/params';

/** V8's Map holds at most 2^24 entries. */
export const MAX_ROWS = 1 << 24;

/** A content hash as a Map key: its 32 bytes as a 32-character latin1 string (a fresh flat string, never a slice). */
export function keyOf(hash: string): string {
  return Buffer.from(hash, 'hex').toString('latin1');
}

export function hexOf(key: string): string {
  return Buffer.from(key, 'latin1').toString('hex');
}

export class RowTable {
  /** key → dense id; ids index shardOf and rowOf. */
  readonly ids = new Map<string, number>();
  shardOf: Int32Array = new Int32Array(1024);
  rowOf: Int32Array = new Int32Array(1024);

  /** `dir` only names the cache in the sentence said when it is full. */
  constructor(private readonly dir: string) {}

  get size(): number {
    return this.ids.size;
  }

  /** The dense id of a key, or undefined when it is not stored. */
  idOf(key: string): number | undefined {
    return this.ids.get(key);
  }

  hasKey(key: string): boolean {
    return this.ids.has(key);
  }

  /** Points `key` at (shard, row); a key already present keeps its id. Refuses the 2^24+1st key in one sentence. */
  set(key: string, shard: number, row: number): void {
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.ids.size;
      if (id >= MAX_ROWS)
        throw new ConvfeatError(
          `The cache ${this.dir} holds ${MAX_ROWS} embeddings, the most one cache can index (a JavaScript Map's limit); extract the remaining images into a second ${param('cacheDir')}.`,
        );
      if (id === this.shardOf.length) {
        const grow = (a: Int32Array): Int32Array => {
          const b = new Int32Array(a.length * 2);
          b.set(a);
          return b;
        };
        this.shardOf = grow(this.shardOf);
        this.rowOf = grow(this.rowOf);
      }
      this.ids.set(key, id);
    }
    this.shardOf[id] = shard;
    this.rowOf[id] = row;
  }

  clear(): void {
    this.ids.clear();
  }

  /** Removes keys, then renumbers the rest: ids must stay dense (a new id is ids.size). */
  deleteAll(keys: Iterable<string>): void {
    let deleted = false;
    for (const key of keys) deleted = this.ids.delete(key) || deleted;
    if (!deleted) return;
    const shardOf = new Int32Array(Math.max(1024, this.ids.size * 2));
    const rowOf = new Int32Array(shardOf.length);
    let next = 0;
    for (const [key, id] of this.ids) {
      shardOf[next] = this.shardOf[id]!;
      rowOf[next] = this.rowOf[id]!;
      this.ids.set(key, next++);
    }
    this.shardOf = shardOf;
    this.rowOf = rowOf;
  }
}
