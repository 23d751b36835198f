/**
 * The embedding store of a cache directory, keyed by the sha256 of an image's bytes:
 *
 *   DIR/cache.json       what model and preprocessing made the embeddings (meta.ts)
 *   DIR/shards/sNNNNNN.npy  float32 [k, D] rows, each file written once, atomically
 *   DIR/index.jsonl      append-only, one line per row: {"h": hash, "s": shard file, "r": row}
 *
 * Crash safety comes from the order of writes: a batch's shard is complete on disk (temp file, fsync, rename)
 * before its index lines are appended (one write, then fsync). Killed at any moment, the directory holds at worst
 * a temp file, a shard no line points to, or a torn last index line, and opening ignores all three: only the batch
 * in flight is lost. A hash already present is never written again and, on reading, the first line for a hash
 * wins, so no row is ever duplicated.
 */
import * as fs from 'fs';
import * as path from 'path';
import { fsyncFileSync, writeAllSync, writeFileAtomicSync } from '../util/atomic';
import { ensureDir } from '../util/dirs';
import { ConvfeatError } from '../util/errors';
import { writeNpySync } from '../util/npy';
import { invalid } from '../util/validate';
import { CacheLock, stderrWarning, WarningSink } from './lock';
import { assertSameSpace, CacheIdentity, CacheMeta, checkIdentity, META_FILE, readMeta, writeMeta } from './meta';
import { readShardHeader, readShardRows, ShardHeader } from './shard-file';

export const INDEX_FILE = 'index.jsonl';
export const SHARDS_DIR = 'shards';
const SHARD_NAME = /^s(\d{6,})\.npy$/;
const HASH = /^[0-9a-f]{64}$/;
/** Compaction targets shards of about this many bytes: few files, yet one shard is cheap to hold in memory. */
const COMPACT_SHARD_BYTES = 64 * 1024 * 1024;

export interface StoreOptions {
  /** 'read' takes no lock and changes nothing; 'write' takes DIR/lock and creates the cache when missing. */
  mode?: 'read' | 'write';
  /** Required to write; when given, a cache made with another model, preprocessing or dim is refused. */
  identity?: CacheIdentity;
  warn?: WarningSink;
}

interface Location {
  shard: number; // index into shardNames
  row: number;
}

export function isContentHash(value: unknown): value is string {
  return typeof value === 'string' && HASH.test(value);
}

/** Temp files of atomic writes start with "." and contain ".tmp-": leftovers of a killed writer. */
function isLeftoverTemp(name: string): boolean {
  return name.startsWith('.') && name.includes('.tmp-');
}

export class EmbeddingStore {
  readonly dir: string;
  readonly meta: CacheMeta;
  readonly dim: number;
  private readonly lock: CacheLock | undefined;
  private readonly locations = new Map<string, Location>();
  private shardNames: string[] = [];
  private shardHeaders: ShardHeader[] = [];
  private nextSeq = 1;
  private closed = false;

  private constructor(dir: string, meta: CacheMeta, lock: CacheLock | undefined) {
    this.dir = dir;
    this.meta = meta;
    this.dim = meta.dim;
    this.lock = lock;
  }

  static open(dir: string, opts: StoreOptions = {}): EmbeddingStore {
    if (typeof dir !== 'string' || dir.length === 0) throw invalid('--cache', 'a directory path', dir);
    const mode = opts.mode ?? 'read';
    if (opts.identity !== undefined) checkIdentity(opts.identity);
    const root = path.resolve(dir);
    if (mode === 'read') {
      const meta = readMeta(root);
      if (!meta)
        throw new ConvfeatError(
          `${dir} is not a convfeat cache (it has no ${META_FILE}); run convfeat extract --cache ${dir} first.`,
        );
      if (opts.identity) assertSameSpace(meta, opts.identity);
      const store = new EmbeddingStore(root, meta, undefined);
      store.loadIndex();
      return store;
    }
    if (!opts.identity) throw invalid('identity', 'the model and preprocessing of the embeddings to write', undefined);
    ensureDir(root, 'the cache');
    const lock = CacheLock.acquire(root, opts.warn ?? stderrWarning);
    try {
      let meta = readMeta(root);
      if (meta) assertSameSpace(meta, opts.identity);
      else {
        EmbeddingStore.assertFreshDirectory(root, dir);
        meta = writeMeta(root, opts.identity);
      }
      ensureDir(path.join(root, SHARDS_DIR));
      const store = new EmbeddingStore(root, meta, lock);
      store.removeLeftoverTemps();
      store.repairIndexTail();
      store.loadIndex();
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
        `${shown} is not empty and is not a convfeat cache (no ${META_FILE}); choose a new or empty --cache directory.`,
      );
    }
  }

  get size(): number {
    return this.locations.size;
  }

  /** Number of shard files the index refers to. */
  get shardCount(): number {
    return new Set([...this.locations.values()].map((l) => l.shard)).size;
  }

  has(hash: string): boolean {
    return this.locations.has(hash);
  }

  hashes(): IterableIterator<string> {
    return this.locations.keys();
  }

  /** One embedding (a fresh copy), or undefined when the hash is not stored. */
  get(hash: string): Float32Array | undefined {
    this.assertOpen();
    const loc = this.locations.get(hash);
    if (!loc) return undefined;
    return this.readRows(loc.shard, loc.row, 1);
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
    hashes.forEach((hash, pos) => {
      const loc = this.locations.get(hash);
      if (!loc)
        throw new ConvfeatError(
          `The cache ${this.dir} has no embedding for content hash ${String(hash).slice(0, 16)}…; run convfeat extract on it again.`,
        );
      let list = byShard.get(loc.shard);
      if (!list) byShard.set(loc.shard, (list = []));
      list.push({ pos, row: loc.row });
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
    for (const [hash, loc] of this.locations) {
      let list = byShard.get(loc.shard);
      if (!list) byShard.set(loc.shard, (list = []));
      list.push(hash);
    }
    for (const hashes of byShard.values()) yield { hashes, rows: this.gather(hashes) };
  }

  /**
   * Stores the rows (hashes.length × D) whose hashes are new; returns how many were added. When it returns, they
   * are on disk: a crash afterwards loses nothing of this batch.
   */
  putBatch(hashes: readonly string[], rows: Float32Array): number {
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
      if (this.locations.has(hash) || inBatch.has(hash)) return;
      inBatch.add(hash);
      fresh.push(i);
    });
    if (fresh.length === 0) return 0;
    const dim = this.dim;
    let data = rows;
    if (fresh.length !== hashes.length) {
      data = new Float32Array(fresh.length * dim);
      fresh.forEach((i, k) => data.set(rows.subarray(i * dim, (i + 1) * dim), k * dim));
    }
    const name = this.allocateShardName();
    writeNpySync(path.join(this.dir, SHARDS_DIR, name), { dtype: '<f4', shape: [fresh.length, dim], data });
    const lines = fresh.map((i, r) => JSON.stringify({ h: hashes[i], s: name, r })).join('\n') + '\n';
    this.appendIndex(lines);
    const shard = this.shardNames.push(name) - 1;
    this.shardHeaders.push({ rows: fresh.length, offset: -1 });
    fresh.forEach((i, r) => this.locations.set(hashes[i]!, { shard, row: r }));
    return fresh.length;
  }

  /**
   * Rewrites the stored rows into few large shards and a fresh index, then deletes every shard file the index
   * does not use (superseded, or left unreferenced by a killed run). Each step is atomic, and the new index only
   * replaces the old one once every new shard is on disk. Returns the number of files removed.
   */
  compact(): { shardsBefore: number; shardsAfter: number; removedFiles: number } {
    this.assertWritable();
    const shardsBefore = this.shardCount;
    const perShard = Math.max(1, Math.floor(COMPACT_SHARD_BYTES / (this.dim * 4)));
    const target = Math.ceil(this.size / perShard);
    if (shardsBefore > target) {
      const lines: string[] = [];
      let buffer = new Float32Array(Math.min(perShard, this.size) * this.dim);
      let pending: string[] = [];
      const flush = (): void => {
        if (pending.length === 0) return;
        const name = this.allocateShardName();
        const data = buffer.subarray(0, pending.length * this.dim);
        writeNpySync(path.join(this.dir, SHARDS_DIR, name), { dtype: '<f4', shape: [pending.length, this.dim], data });
        pending.forEach((h, r) => lines.push(JSON.stringify({ h, s: name, r })));
        pending = [];
      };
      for (const shard of this.shards()) {
        for (let k = 0; k < shard.hashes.length; k++) {
          buffer.set(shard.rows.subarray(k * this.dim, (k + 1) * this.dim), pending.length * this.dim);
          pending.push(shard.hashes[k]!);
          if (pending.length === perShard) flush();
        }
      }
      flush();
      buffer = new Float32Array(0);
      writeFileAtomicSync(path.join(this.dir, INDEX_FILE), lines.length ? lines.join('\n') + '\n' : '');
      this.loadIndex();
    }
    const live = new Set([...this.locations.values()].map((l) => this.shardNames[l.shard]));
    let removedFiles = 0;
    for (const name of fs.readdirSync(path.join(this.dir, SHARDS_DIR))) {
      if (live.has(name)) continue;
      fs.rmSync(path.join(this.dir, SHARDS_DIR, name), { force: true });
      removedFiles++;
    }
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

  private readRows(shard: number, first: number, count: number): Float32Array {
    const file = path.join(this.dir, SHARDS_DIR, this.shardNames[shard]!);
    let header = this.shardHeaders[shard]!;
    try {
      if (header.offset < 0) header = this.shardHeaders[shard] = readShardHeader(file, this.dim) ?? header;
      if (header.offset < 0) throw new Error('unreadable header');
      return readShardRows(file, header, this.dim, first, count);
    } catch {
      throw new ConvfeatError(
        `The cache ${this.dir} changed while it was being read (${this.shardNames[shard]} is gone or unreadable); run the command again.`,
      );
    }
  }

  private appendIndex(text: string): void {
    const fd = fs.openSync(path.join(this.dir, INDEX_FILE), 'a');
    try {
      const file = path.join(this.dir, INDEX_FILE);
      writeAllSync(fd, text, file);
      fsyncFileSync(fd, file);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** A torn last line (killed mid-append) is cut off, so the next append starts on a line of its own. */
  private repairIndexTail(): void {
    const file = path.join(this.dir, INDEX_FILE);
    let buf: Buffer;
    try {
      buf = fs.readFileSync(file);
    } catch {
      return;
    }
    if (buf.length === 0 || buf[buf.length - 1] === 0x0a) return;
    fs.truncateSync(file, buf.lastIndexOf(0x0a) + 1);
  }

  private removeLeftoverTemps(): void {
    for (const dir of [this.dir, path.join(this.dir, SHARDS_DIR)]) {
      for (const name of fs.readdirSync(dir))
        if (isLeftoverTemp(name)) fs.rmSync(path.join(dir, name), { force: true });
    }
  }

  /** Reads index.jsonl, keeping each hash's first line that points at an existing row of a valid shard. */
  private loadIndex(): void {
    this.locations.clear();
    this.shardNames = [];
    this.shardHeaders = [];
    const shardByName = new Map<string, number | null>();
    let text = '';
    try {
      text = fs.readFileSync(path.join(this.dir, INDEX_FILE), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new ConvfeatError(
          `Cannot read ${path.join(this.dir, INDEX_FILE)} (${(e as NodeJS.ErrnoException).code}).`,
        );
    }
    for (const line of text.split('\n')) {
      if (line.length === 0) continue;
      let entry: { h?: unknown; s?: unknown; r?: unknown };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        continue; // torn by a crash mid-append
      }
      const { h, s, r } = entry ?? {};
      if (
        !isContentHash(h) ||
        typeof s !== 'string' ||
        !SHARD_NAME.test(s) ||
        typeof r !== 'number' ||
        !Number.isInteger(r) ||
        r < 0
      )
        continue;
      if (this.locations.has(h)) continue;
      let shard = shardByName.get(s);
      if (shard === undefined) {
        const header = readShardHeader(path.join(this.dir, SHARDS_DIR, s), this.dim);
        shard = header ? this.shardNames.push(s) - 1 : null;
        if (header) this.shardHeaders.push(header);
        shardByName.set(s, shard);
      }
      if (shard === null || r >= this.shardHeaders[shard]!.rows) continue;
      this.locations.set(h, { shard, row: r });
    }
    let maxSeq = 0;
    try {
      for (const name of fs.readdirSync(path.join(this.dir, SHARDS_DIR))) {
        const m = SHARD_NAME.exec(name);
        if (m) maxSeq = Math.max(maxSeq, Number(m[1]));
      }
    } catch {
      // no shards folder yet: a cache with no rows
    }
    for (const s of shardByName.keys()) maxSeq = Math.max(maxSeq, Number(SHARD_NAME.exec(s)![1]));
    this.nextSeq = maxSeq + 1;
  }
}
