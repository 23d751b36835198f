/**
 * The embedding store of a cache directory, keyed by the sha256 of an image's bytes:
 *
 *   DIR/cache.json       what model and preprocessing made the embeddings (meta.ts)
 *   DIR/shards/sNNNNNN.npy  float32 [k, D] rows, each file written once, atomically
 *   DIR/index.jsonl      append-only: per batch, a shard record (rows, sha256 of the file) and one line per row
 *                        (index-file.ts)
 *
 * Crash safety comes from the order of writes (durable.ts): a batch's shard is complete on disk (temp file, fsync,
 * rename, directory fsync) before its index lines are appended (one write, then fsync). Killed at any moment, the
 * directory holds at worst a temp file, a shard no line points to, or a torn last index line; readers ignore all
 * three and the next writer removes them, so only the batch in flight is lost. A hash already present is never
 * written again, so no row is ever duplicated. Damage after the fact (a bit flip, a swapped or truncated file) is
 * caught by the shard's sha256: readers refuse the shard with a sentence, and the next writer drops it so its rows
 * are recomputed (scan.ts).
 */
import * as path from 'path';
import { ensureDir } from '../util/dirs';
import { ConvfeatError } from '../util/errors';
import { npyHeader } from '../util/npy';
import { invalid } from '../util/validate';
import { writeBatchFiles, type BatchFiles } from './batch-files';
import { isContentHash } from './hash-key';
import { rowLine } from './index-file';
import { removeLeftoverTemps, repairIndexTail } from './recovery';
import { CacheLock, stderrWarning, WarningSink } from './lock';
import { assertSameSpace, CacheIdentity, CacheMeta, checkIdentity, META_FILE, readMeta, writeMeta } from './meta';
import { ShardHeader } from './shard-file';
import { hexOf, keyOf, RowTable } from './row-table';
import { readRows } from './shard-reads';
import { rewriteShards } from './store-compact';
import {
  assertFreshDirectory,
  dropUnusable,
  INDEX_FILE,
  loadIndex,
  removeOrphanShards,
  SHARDS_DIR,
  shardInfo,
  type ShardInfo,
} from './store-index';
import { param } from '../util/params';

export { isContentHash, INDEX_FILE, SHARDS_DIR };
export type { ShardInfo };

export interface StoreOptions {
  /** 'read' takes no lock and changes nothing; 'write' takes DIR/lock and creates the cache when missing. */
  mode?: 'read' | 'write';
  /** Required to write; when given, a cache made with another model, preprocessing or dim is refused. */
  identity?: CacheIdentity;
  warn?: WarningSink;
  /**
   * Writers only (default true): read every shard once on open, drop shards whose sha256 does not match the index
   * and rows that are not finite, so the next extract recomputes them.
   */
  check?: boolean;
}

/** A batch checked and laid out by prepareBatch: the files to write, and the hashes of its new rows in row order. */
export interface PreparedBatch {
  files: BatchFiles;
  hashes: string[];
}

export class EmbeddingStore {
  readonly dir: string;
  readonly meta: CacheMeta;
  readonly dim: number;
  private readonly lock: CacheLock | undefined;
  private readonly warn: WarningSink;
  /** hash → (shard, row), lean enough for 10 M rows (row-table.ts). */
  private readonly table: RowTable;
  private shardInfos: ShardInfo[] = [];
  /** Hashes whose stored row was dropped as unusable: their new line says it replaces the old one. */
  private readonly replaced = new Set<string>();
  private nextSeq = 1;
  private closed = false;

  private constructor(dir: string, meta: CacheMeta, lock: CacheLock | undefined, warn: WarningSink) {
    this.dir = dir;
    this.meta = meta;
    this.dim = meta.dim;
    this.lock = lock;
    this.warn = warn;
    this.table = new RowTable(dir);
  }

  static open(dir: string, opts: StoreOptions = {}): EmbeddingStore {
    if (typeof dir !== 'string' || dir.length === 0) throw invalid(param('cacheDir'), 'a directory path', dir);
    const mode = opts.mode ?? 'read';
    if (opts.identity !== undefined) checkIdentity(opts.identity);
    const root = path.resolve(dir);
    const warn = opts.warn ?? stderrWarning;
    if (mode === 'read') {
      const meta = readMeta(root);
      if (!meta)
        throw new ConvfeatError(
          `${dir} is not a convfeat cache (it has no ${META_FILE}); run convfeat extract --cache ${dir} first.`,
        );
      if (opts.identity) assertSameSpace(meta, opts.identity);
      const store = new EmbeddingStore(root, meta, undefined, warn);
      store.loadIndex();
      return store;
    }
    if (!opts.identity) throw invalid('identity', 'the model and preprocessing of the embeddings to write', undefined);
    ensureDir(root, 'the cache');
    const lock = CacheLock.acquire(root, warn);
    try {
      let meta = readMeta(root);
      if (meta) assertSameSpace(meta, opts.identity);
      else {
        assertFreshDirectory(root, dir);
        meta = writeMeta(root, opts.identity);
      }
      ensureDir(path.join(root, SHARDS_DIR));
      const store = new EmbeddingStore(root, meta, lock, warn);
      removeLeftoverTemps([root, path.join(root, SHARDS_DIR)]);
      repairIndexTail(path.join(root, INDEX_FILE));
      store.loadIndex();
      if (opts.check !== false) store.dropUnusable();
      store.removeOrphanShards();
      return store;
    } catch (e) {
      lock.release();
      throw e;
    }
  }

  get size(): number {
    return this.table.size;
  }

  /** Number of shard files the index refers to. */
  get shardCount(): number {
    const used = new Uint8Array(this.shardInfos.length);
    let count = 0;
    const { shardOf } = this.table;
    for (const id of this.table.ids.values()) {
      const s = shardOf[id]!;
      if (!used[s]) count += used[s] = 1;
    }
    return count;
  }

  has(hash: string): boolean {
    return typeof hash === 'string' && hash.length === 64 && this.table.hasKey(keyOf(hash));
  }

  *hashes(): IterableIterator<string> {
    for (const key of this.table.ids.keys()) yield hexOf(key);
  }

  /** One embedding (a fresh copy), or undefined when the hash is not stored. */
  get(hash: string): Float32Array | undefined {
    this.assertOpen();
    const id = this.table.idOf(keyOf(hash));
    if (id === undefined) return undefined;
    return this.readRows(this.table.shardOf[id]!, this.table.rowOf[id]!, 1);
  }

  /**
   * The embeddings of `hashes` as one N×D Float32Array in the given order (repeats allowed). Each shard is read
   * once. Throws when a hash is not stored.
   */
  gather(hashes: readonly string[]): Float32Array {
    this.assertOpen();
    const dim = this.dim;
    const out = new Float32Array(hashes.length * dim);
    const byShard = new Map<number, Array<{ pos: number; row: number }>>();
    const { shardOf, rowOf } = this.table;
    hashes.forEach((hash, pos) => {
      const id = typeof hash === 'string' ? this.table.idOf(keyOf(hash)) : undefined;
      if (id === undefined)
        throw new ConvfeatError(
          `The cache ${this.dir} has no embedding for content hash ${String(hash).slice(0, 16)}…; run convfeat extract on it again.`,
        );
      const shard = shardOf[id]!;
      let list = byShard.get(shard);
      if (!list) byShard.set(shard, (list = []));
      list.push({ pos, row: rowOf[id]! });
    });
    for (const [shard, wanted] of byShard) {
      let first = Infinity;
      let last = -1;
      for (const w of wanted) {
        first = Math.min(first, w.row);
        last = Math.max(last, w.row);
      }
      const rows = this.readRows(shard, first, last - first + 1);
      for (const w of wanted) out.set(rows.subarray((w.row - first) * dim, (w.row - first + 1) * dim), w.pos * dim);
    }
    return out;
  }

  /**
   * Every stored row, one shard at a time: {hashes, rows (k×D)}. Memory stays at one shard, so merge and compact
   * work on caches larger than RAM.
   */
  *shards(): Generator<{ hashes: string[]; rows: Float32Array }> {
    this.assertOpen();
    const byShard = new Map<number, string[]>();
    const { shardOf } = this.table;
    for (const [key, id] of this.table.ids) {
      const shard = shardOf[id]!;
      let list = byShard.get(shard);
      if (!list) byShard.set(shard, (list = []));
      list.push(hexOf(key));
    }
    for (const hashes of byShard.values()) yield { hashes, rows: this.gather(hashes) };
  }

  /**
   * Stores the rows (hashes.length × D) whose hashes are new; returns how many were added. When it returns, they
   * are on disk: a crash afterwards loses nothing of this batch.
   */
  putBatch(hashes: readonly string[], rows: Float32Array): number {
    const prepared = this.prepareBatch(hashes, rows);
    return prepared ? this.commitBatch(prepared, writeBatchFiles(prepared.files)) : 0;
  }

  /**
   * putBatch in two halves, for a caller that writes the files elsewhere (extraction writes them in a thread while
   * the next batch is inferred): checks the rows, picks the new ones and a shard name, and returns the files to
   * write with writeBatchFiles, or undefined when every row is stored already. Nothing changes in the store until
   * commitBatch; prepare the next batch only after committing this one (shard names and index order follow).
   */
  prepareBatch(hashes: readonly string[], rows: Float32Array): PreparedBatch | undefined {
    this.assertWritable();
    if (!Array.isArray(hashes)) throw invalid('hashes', 'an array of sha256 hex strings', hashes);
    if (!(rows instanceof Float32Array) || rows.length !== hashes.length * this.dim) {
      throw invalid(
        'rows',
        `a Float32Array of ${hashes.length}×${this.dim} = ${hashes.length * this.dim} numbers`,
        rows instanceof Float32Array ? `length ${rows.length}` : rows,
      );
    }
    const fresh: number[] = [];
    const inBatch = new Set<string>();
    hashes.forEach((hash, i) => {
      if (!isContentHash(hash)) throw invalid(`hashes[${i}]`, 'a lowercase sha256 hex string of 64 characters', hash);
      if (this.has(hash) || inBatch.has(hash)) return;
      inBatch.add(hash);
      fresh.push(i);
    });
    if (fresh.length === 0) return undefined;
    const dim = this.dim;
    let data = rows;
    if (fresh.length !== hashes.length) {
      data = new Float32Array(fresh.length * dim);
      fresh.forEach((i, k) => data.set(rows.subarray(i * dim, (i + 1) * dim), k * dim));
    }
    const name = this.allocateShardName();
    const header = npyHeader('<f4', [fresh.length, dim]);
    const body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    let rowLines = '';
    for (let r = 0; r < fresh.length; r++) {
      const hash = hashes[fresh[r]!]!;
      rowLines += rowLine(hash, name, r, this.replaced.has(hash));
    }
    const files: BatchFiles = {
      name,
      shardFile: path.join(this.dir, SHARDS_DIR, name),
      indexFile: path.join(this.dir, INDEX_FILE),
      rows: fresh.length,
      header,
      body,
      rowLines,
    };
    return { files, hashes: fresh.map((i) => hashes[i]!) };
  }

  /** The batch's files are durable (writeBatchFiles returned `sha256`): its rows become visible. */
  commitBatch(prepared: PreparedBatch, sha256: string): number {
    const { files, hashes } = prepared;
    const shard = this.addShard(files.name, { rows: files.rows, offset: files.header.length }, sha256, true);
    hashes.forEach((hash, r) => {
      this.replaced.delete(hash);
      this.table.set(keyOf(hash), shard, r);
    });
    return hashes.length;
  }

  /**
   * Rewrites the stored rows into few large shards and a fresh index, then deletes every shard file the index
   * does not use (superseded, or left unreferenced by a killed run). Each step is atomic, and the new index only
   * replaces the old one once every new shard is on disk; a kill in between leaves files the next writer removes.
   * Returns the number of files removed.
   */
  compact(): { shardsBefore: number; shardsAfter: number; removedFiles: number } {
    this.assertWritable();
    const shardsBefore = this.shardCount;
    const rewritten = rewriteShards({
      dir: this.dir,
      dim: this.dim,
      size: this.size,
      shardCount: shardsBefore,
      shards: () => this.shards(),
      allocateShardName: () => this.allocateShardName(),
    });
    if (rewritten) this.loadIndex();
    const removedFiles = this.removeOrphanShards();
    return { shardsBefore, shardsAfter: this.shardCount, removedFiles };
  }

  /** Releases the lock (writers). The store cannot be used afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.lock?.release();
  }

  get writable(): boolean {
    return this.lock !== undefined && !this.closed;
  }

  private assertOpen(): void {
    if (this.closed) throw new ConvfeatError(`The cache ${this.dir} was closed; open it again to use it.`);
  }

  private assertWritable(): void {
    this.assertOpen();
    if (!this.lock)
      throw new ConvfeatError(
        `The cache ${this.dir} was opened for reading; open it with mode 'write' to add embeddings.`,
      );
  }

  private allocateShardName(): string {
    return `s${String(this.nextSeq++).padStart(6, '0')}.npy`;
  }

  private addShard(name: string, header: ShardHeader, sha256: string | undefined, verified: boolean): number {
    return this.shardInfos.push(shardInfo(name, header, sha256, verified)) - 1;
  }

  /** Rows of one shard, checked against its sha256 on the shard's first read (shard-reads.ts). */
  private readRows(shard: number, first: number, count: number): Float32Array {
    return readRows(this.dir, this.dim, this.shardInfos[shard]!, first, count);
  }

  /** Deletes shard files no index line uses (store-index.ts); writers only, holding the lock. */
  private removeOrphanShards(): number {
    return removeOrphanShards(this.dir, this.shardInfos, this.table);
  }

  /** Drops damaged shards and non-finite rows (store-index.ts); their hashes are rewritten as replacements. */
  private dropUnusable(): void {
    for (const hash of dropUnusable(this.dir, this.dim, this.shardInfos, this.table, this.warn))
      this.replaced.add(hash);
  }

  /** Streams index.jsonl into the row table (store-index.ts). */
  private loadIndex(): void {
    this.shardInfos = [];
    this.nextSeq = loadIndex(this.dir, this.dim, this.table, this.shardInfos);
  }
}
