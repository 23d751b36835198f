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
import * as fs from 'fs';
import * as path from 'path';
import { fsyncFileSync, writeAllSync, writeFileAtomicSync } from '../util/atomic';
import { ensureDir } from '../util/dirs';
import { createHash } from 'crypto';
import { ConvfeatError } from '../util/errors';
import { npyHeader } from '../util/npy';
import { invalid } from '../util/validate';
import { crashPoint } from './crash';
import { ChunkedFileWriter, writeDurable } from './durable';
import { writeBatchFiles, type BatchFiles } from './batch-files';
import { isContentHash } from './hash-key';
import { parseIndexLine, rowLine, SHARD_NAME, shardLine } from './index-file';
import { isLeftoverTemp, removeLeftoverTemps, removeUnusedShards, repairIndexTail } from './recovery';
import { forEachLine } from './lines';
import { CacheLock, stderrWarning, WarningSink } from './lock';
import { assertSameSpace, CacheIdentity, CacheMeta, checkIdentity, META_FILE, readMeta, writeMeta } from './meta';
import { scanShards } from './scan';
import { readShardHeader, readShardRows, ShardHeader } from './shard-file';
import { hexOf, keyOf, RowTable } from './row-table';
import { param } from '../util/params';

export { isContentHash };
export const INDEX_FILE = 'index.jsonl';
export const SHARDS_DIR = 'shards';
/** Compaction targets shards of about this many bytes: few files, yet one shard is cheap to hold in memory. */
const COMPACT_SHARD_BYTES = 64 * 1024 * 1024;

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

export interface ShardInfo {
  name: string;
  header: ShardHeader;
  /** sha256 of the whole file as recorded in the index; undefined for shards written before checksums. */
  sha256: string | undefined;
  verified: boolean;
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
        EmbeddingStore.assertFreshDirectory(root, dir);
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

  /** A new cache goes into an empty directory (or one a killed first run left with nothing but temp files). */
  private static assertFreshDirectory(root: string, shown: string): void {
    const entries = fs.readdirSync(root).filter((n) => n !== 'lock' && !isLeftoverTemp(n));
    const shards = entries.includes(SHARDS_DIR) ? fs.readdirSync(path.join(root, SHARDS_DIR)) : [];
    const meaningful = entries.filter((n) => n !== SHARDS_DIR);
    if (meaningful.length > 0 || shards.some((n) => !isLeftoverTemp(n) && !SHARD_NAME.test(n))) {
      throw new ConvfeatError(
        `${shown} is not empty and is not a convfeat cache (no ${META_FILE}); choose a new or empty ${param('cacheDir')} directory.`,
      );
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
    const dim = this.dim;
    const perShard = Math.max(1, Math.floor(COMPACT_SHARD_BYTES / (dim * 4)));
    const target = Math.ceil(this.size / perShard);
    if (shardsBefore > target) {
      const index = new ChunkedFileWriter(path.join(this.dir, INDEX_FILE), 'compact-index');
      try {
        let buffer = new Float32Array(Math.min(perShard, this.size) * dim);
        let pending: string[] = [];
        const flush = (): void => {
          if (pending.length === 0) return;
          const name = this.allocateShardName();
          const data = buffer.subarray(0, pending.length * dim);
          const parts = [npyHeader('<f4', [pending.length, dim]), new Uint8Array(data.buffer, 0, data.byteLength)];
          const sha256 = writeDurable(path.join(this.dir, SHARDS_DIR, name), parts, 'compact-shard', 'the shard');
          index.add(shardLine(name, pending.length, sha256));
          pending.forEach((h, r) => index.add(rowLine(h, name, r)));
          pending = [];
        };
        for (const shard of this.shards()) {
          for (let k = 0; k < shard.hashes.length; k++) {
            buffer.set(shard.rows.subarray(k * dim, (k + 1) * dim), pending.length * dim);
            pending.push(shard.hashes[k]!);
            if (pending.length === perShard) flush();
          }
        }
        flush();
        buffer = new Float32Array(0);
        index.commit();
      } finally {
        index.abort();
      }
      this.loadIndex();
    }
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
    return this.shardInfos.push({ name, header, sha256, verified: verified || sha256 === undefined }) - 1;
  }

  private damaged(name: string): ConvfeatError {
    return new ConvfeatError(
      `The cache ${this.dir} has a damaged shard ${SHARDS_DIR}/${name} (its sha256 does not match the one in ${INDEX_FILE}: ` +
        'the file was changed, swapped or corrupted on disk); run convfeat extract again with this --cache: it drops that shard and recomputes its rows.',
    );
  }

  private readRows(shard: number, first: number, count: number): Float32Array {
    const info = this.shardInfos[shard]!;
    const file = path.join(this.dir, SHARDS_DIR, info.name);
    if (!info.verified) {
      // The first read of a shard reads it whole once to check it; its rows come from that same read.
      let bytes: Buffer;
      try {
        bytes = fs.readFileSync(file);
      } catch {
        throw this.changedUnderfoot(info.name);
      }
      if (!shaMatches(bytes, info.sha256!)) throw this.damaged(info.name);
      info.verified = true;
      const start = info.header.offset + first * this.dim * 4;
      const out = new Float32Array(count * this.dim);
      new Uint8Array(out.buffer).set(bytes.subarray(start, start + out.byteLength));
      return out;
    }
    try {
      return readShardRows(file, info.header, this.dim, first, count);
    } catch {
      throw this.changedUnderfoot(info.name);
    }
  }

  private changedUnderfoot(name: string): ConvfeatError {
    return new ConvfeatError(
      `The cache ${this.dir} changed while it was being read (${name} is gone or unreadable); run the command again.`,
    );
  }

  /**
   * Removes shard files no index line uses: written by a run killed before its index append, or superseded by a
   * compaction killed before it deleted them. Only a writer calls this, holding the lock, so their owner is dead.
   */
  private removeOrphanShards(): number {
    const live = new Set<string>();
    const { shardOf } = this.table;
    for (const id of this.table.ids.values()) live.add(this.shardInfos[shardOf[id]!]!.name);
    return removeUnusedShards(path.join(this.dir, SHARDS_DIR), live);
  }

  /** Drops damaged shards (deleted, so no reader trusts their lines) and non-finite rows; warns once for each. */
  private dropUnusable(): void {
    const { ids, shardOf, rowOf } = this.table;
    const result = scanShards(this.dir, SHARDS_DIR, this.dim, this.shardInfos, ids, shardOf, rowOf);
    for (const s of result.damagedShards) {
      fs.rmSync(path.join(this.dir, SHARDS_DIR, this.shardInfos[s]!.name), { force: true });
      this.warn(
        `the cache shard ${SHARDS_DIR}/${this.shardInfos[s]!.name} was damaged (sha256 mismatch); it was removed and its rows will be recomputed.`,
      );
    }
    for (const key of result.droppedKeys) if (!result.damagedKeys.has(key)) this.replaced.add(hexOf(key));
    if (result.nonFinite > 0)
      this.warn(
        `${result.nonFinite} cached embedding(s) held NaN or infinite values; they will be recomputed by this run.`,
      );
    this.table.deleteAll(result.droppedKeys);
  }

  /** Streams index.jsonl: each hash's first line that points at an existing row of a valid shard (index-file.ts). */
  private loadIndex(): void {
    this.table.clear();
    this.shardInfos = [];
    const shardByName = new Map<string, number | null>();
    const sums = new Map<string, string>();
    let maxSeq = 0;
    const file = path.join(this.dir, INDEX_FILE);
    try {
      const seen = (name: string): void => {
        maxSeq = Math.max(maxSeq, Number(SHARD_NAME.exec(name)![1]));
      };
      const onLine = (text: string, complete: boolean): void => {
        if (!complete) return; // torn by a crash mid-append (or being appended this instant)
        const line = parseIndexLine(text);
        if (!line) return;
        if (line.kind === 'shard') {
          seen(line.shard);
          sums.set(line.shard, line.sha256);
          return;
        }
        let shard = shardByName.get(line.shard);
        if (shard === undefined) {
          seen(line.shard);
          const header = readShardHeader(path.join(this.dir, SHARDS_DIR, line.shard), this.dim);
          shard = header ? this.addShard(line.shard, header, sums.get(line.shard), false) : null;
          shardByName.set(line.shard, shard);
        }
        if (shard === null || line.row >= this.shardInfos[shard]!.header.rows) return;
        const key = keyOf(line.hash);
        if (!line.replaces && this.table.hasKey(key)) return; // the first usable line of a hash wins
        this.table.set(key, shard, line.row);
      };
      forEachLine(file, onLine, undefined, 'latin1'); // index.jsonl is ASCII: convfeat writes every line
    } catch (e) {
      if (e instanceof ConvfeatError) throw e;
      throw new ConvfeatError(`Cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'}).`);
    }
    try {
      for (const name of fs.readdirSync(path.join(this.dir, SHARDS_DIR))) {
        const m = SHARD_NAME.exec(name);
        if (m) maxSeq = Math.max(maxSeq, Number(m[1]));
      }
    } catch {
      // no shards folder yet: a cache with no rows
    }
    this.nextSeq = maxSeq + 1;
  }
}

function shaMatches(bytes: Uint8Array, sha256: string): boolean {
  return createHash('sha256').update(bytes).digest('hex') === sha256;
}
