/**
 * An optional HNSW index (usearch, f16 vectors, M 16: the pick of bench/README.md, "Audit") beside the cache, so a
 * `similar` query over a large cache costs milliseconds instead of a full scan. It is only an accelerator: below
 * INDEX_MIN_ROWS rows, with --exact, when usearch does not load, or when the index file is damaged, the caller runs
 * exact search, and the index's candidates are always rescored exactly from the cache's own embeddings.
 *
 * Layout: <cache>/index-usearch/index.usearch (the graph) and index.json (the model fingerprint, the dimension,
 * the sha256 of the graph file, and the content hash of each key's row, key i ↔ hashes[i]). Rows with the same bytes
 * share one key. The index is extended with the rows a later extract adds, and rebuilt when rows went away or the
 * cache holds another model's embeddings.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createHash } from 'crypto';
import { commitTempFile, tempSibling, writeFileAtomicSync } from '../util/atomic';
import { dot, type Neighbours } from './search';

/**
 * Rows from which `similar` uses the index. One exact query costs ≈ 12 µs per row on the bench machine (0.25 s at
 * 20,000 rows), while building the index costs ≈ 5 ms per row once (bench/README.md): below this, exact search is
 * fast enough that a build would not pay back.
 */
export const INDEX_MIN_ROWS = 20_000;

/**
 * `similar` pays for loading the index on every call: measured at 20,000 × 2,048 synthetic rows, a query through
 * the index took 718 ms end to end against 634 ms exact (medians of 20), so a single query uses it only from here.
 */
export const SIMILAR_INDEX_MIN_ROWS = 100_000;

const INDEX_DIR = 'index-usearch';
const GRAPH_FILE = 'index.usearch';
const META_FILE = 'index.json';
const CONNECTIVITY = 16;
/** Candidates asked for beyond k, so that excluding the query row and rescoring still leaves k good ones. */
const EXTRA_CANDIDATES = 16;

interface IndexMeta {
  format: 1;
  library: string;
  quantization: 'f16';
  connectivity: number;
  dim: number;
  modelFingerprint: string;
  graphSha256: string;
  /** Size and mtime of the graph when it was written: while both still match, the checksum need not be re-read. */
  graphSize: number;
  graphMtimeMs: number;
  hashes: string[];
}

/** The cache's rows as the index needs them: unit-length embeddings and each row's content hash. */
export interface IndexRows {
  /** N×dim, rows L2-normalised (search.normalizeRows). */
  Xn: Float32Array;
  dim: number;
  hashes: string[];
  modelFingerprint: string;
}

export interface IndexSearchOptions {
  /** Use the index from this many rows on (default INDEX_MIN_ROWS). */
  minRows?: number;
  log?: (line: string) => void;
}

type UsearchModule = typeof import('usearch');

let usearch: UsearchModule | null | undefined;
/** usearch is a native module: a platform without a prebuilt binary falls back to exact search, never fails. */
function loadUsearch(log: (line: string) => void): UsearchModule | null {
  if (usearch === undefined) {
    try {
      usearch = require('usearch') as UsearchModule;
    } catch (e) {
      usearch = null;
      log(
        `note: the usearch vector index does not load here (${(e as Error).message.split('\n')[0]}); using exact search.`,
      );
    }
  }
  return usearch;
}

export function indexDir(cacheDir: string): string {
  return path.join(cacheDir, INDEX_DIR);
}

function fileSha256(file: string): string {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 22);
    let n: number;
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/**
 * True when the graph file has the size and mtime recorded at its write. Hashing the whole graph (≈ 4 KB a row) on
 * every query would cost as much as the exact scan the index saves; any rewrite of the file changes its mtime, and
 * then the full checksum decides.
 */
function graphUnchanged(graph: string, meta: IndexMeta): boolean {
  try {
    const st = fs.statSync(graph);
    return st.size === meta.graphSize && st.mtimeMs === meta.graphMtimeMs;
  } catch {
    return false;
  }
}

function readIndexMeta(dir: string): IndexMeta | undefined {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(dir, META_FILE), 'utf8')) as IndexMeta;
    if (m.format !== 1 || !Array.isArray(m.hashes) || typeof m.graphSha256 !== 'string') return undefined;
    return m;
  } catch {
    return undefined;
  }
}

function newIndex(u: UsearchModule, dim: number): InstanceType<UsearchModule['Index']> {
  return new u.Index({
    dimensions: dim,
    metric: u.MetricKind.Cos,
    quantization: u.ScalarKind.F16,
    connectivity: CONNECTIVITY,
    // Wider beams than usearch's defaults (128/64): tight, well-separated clusters (duplicates, one photo's frames)
    // otherwise leave parts of the graph poorly linked; searches stay ~1 ms at 10⁴ rows.
    expansion_add: 256,
    expansion_search: 256,
  } as unknown as ConstructorParameters<UsearchModule['Index']>[0]);
}

/** Adds the rows of the given hashes (first row of each) under consecutive keys from `firstKey`. */
function addRows(
  index: InstanceType<UsearchModule['Index']>,
  rows: IndexRows,
  firstRowOf: Map<string, number>,
  hashes: string[],
  firstKey: number,
): void {
  const { Xn, dim } = rows;
  const CHUNK = 4096;
  for (let c = 0; c < hashes.length; c += CHUNK) {
    const part = hashes.slice(c, c + CHUNK);
    const mat = new Float32Array(part.length * dim);
    const keys = new BigUint64Array(part.length);
    part.forEach((h, t) => {
      const r = firstRowOf.get(h)!;
      mat.set(Xn.subarray(r * dim, (r + 1) * dim), t * dim);
      keys[t] = BigInt(firstKey + c + t);
    });
    // One thread: a multi-threaded build differs run to run and, on tight clusters, measurably missed true
    // neighbours in test/audit/vectorIndex.test.ts (recall@10 0.96–0.99); the single-threaded one found them all.
    index.add(keys, mat, 1);
  }
}

/** Saves the graph and its metadata atomically (graph first; the metadata names the graph's checksum). */
function saveIndex(
  dir: string,
  index: InstanceType<UsearchModule['Index']>,
  meta: Omit<IndexMeta, 'graphSha256' | 'graphSize' | 'graphMtimeMs'>,
): void {
  fs.mkdirSync(dir, { recursive: true });
  const graph = path.join(dir, GRAPH_FILE);
  const tmp = tempSibling(graph);
  try {
    index.save(tmp);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  const graphSha256 = fileSha256(tmp);
  commitTempFile(tmp, graph);
  const st = fs.statSync(graph);
  writeFileAtomicSync(
    path.join(dir, META_FILE),
    JSON.stringify({ ...meta, graphSha256, graphSize: st.size, graphMtimeMs: st.mtimeMs }) + '\n',
  );
}

/**
 * The index over `rows`, loaded, extended or built as needed; undefined (with a one-line note) when it cannot be
 * used, so the caller searches exactly.
 */
function openIndex(
  cacheDir: string,
  rows: IndexRows,
  firstRowOf: Map<string, number>,
  log: (line: string) => void,
): { index: InstanceType<UsearchModule['Index']>; hashes: string[] } | undefined {
  const u = loadUsearch(log);
  if (!u) return undefined;
  const dir = indexDir(cacheDir);
  const graph = path.join(dir, GRAPH_FILE);
  const unique = [...firstRowOf.keys()];
  const meta = readIndexMeta(dir);
  const base = {
    format: 1 as const,
    library: 'usearch 2.26.2',
    quantization: 'f16' as const,
    connectivity: CONNECTIVITY,
    dim: rows.dim,
    modelFingerprint: rows.modelFingerprint,
  };
  let reuse = false;
  if (meta && fs.existsSync(graph)) {
    if (meta.dim !== rows.dim || meta.modelFingerprint !== rows.modelFingerprint) {
      log(`note: the vector index in ${dir} was built from other embeddings; rebuilding it.`);
    } else if (!graphUnchanged(graph, meta) && fileSha256(graph) !== meta.graphSha256) {
      // Checked before the native loader ever parses the file, so a damaged graph cannot crash the process.
      // Removed so that the next run builds a sound one; this run answers exactly.
      log(`note: the vector index ${graph} is damaged (checksum differs); ignoring it and using exact search.`);
      fs.rmSync(graph, { force: true });
      fs.rmSync(path.join(dir, META_FILE), { force: true });
      return undefined;
    } else if (meta.hashes.some((h) => !firstRowOf.has(h))) {
      log(`note: rows went out of the cache since its vector index was built; rebuilding the index.`);
    } else reuse = true;
  }
  try {
    if (reuse) {
      const index = newIndex(u, rows.dim);
      index.load(graph);
      if (Number(index.size()) !== meta!.hashes.length) {
        log(`note: the vector index ${graph} does not match its index.json; ignoring it and using exact search.`);
        return undefined;
      }
      const known = new Set(meta!.hashes);
      const added = unique.filter((h) => !known.has(h));
      if (added.length === 0) return { index, hashes: meta!.hashes };
      log(`Adding ${added.length} new rows to the vector index…`);
      addRows(index, rows, firstRowOf, added, meta!.hashes.length);
      const hashes = meta!.hashes.concat(added);
      saveIndex(dir, index, { ...base, hashes });
      return { index, hashes };
    }
    log(`Building the vector index over ${unique.length} rows (once; later runs reuse it)…`);
    const index = newIndex(u, rows.dim);
    addRows(index, rows, firstRowOf, unique, 0);
    saveIndex(dir, index, { ...base, hashes: unique });
    return { index, hashes: unique };
  } catch (e) {
    log(`note: the vector index in ${dir} cannot be used (${(e as Error).message}); using exact search.`);
    return undefined;
  }
}

export interface OpenedIndex {
  index: InstanceType<UsearchModule['Index']>;
  /** Key i ↔ content hash hashes[i]. */
  hashes: string[];
  /** Content hash → the cache rows with those bytes. */
  rowsOf: Map<string, number[]>;
}

/** The index over the cache's rows, ready to search; undefined when exact search should answer. */
export function openRowsIndex(
  cacheDir: string,
  rows: IndexRows,
  options: IndexSearchOptions = {},
): OpenedIndex | undefined {
  const log = options.log ?? (() => {});
  if (rows.hashes.length < (options.minRows ?? INDEX_MIN_ROWS)) return undefined;
  const rowsOf = new Map<string, number[]>();
  rows.hashes.forEach((h, r) => {
    const list = rowsOf.get(h);
    if (list) list.push(r);
    else rowsOf.set(h, [r]);
  });
  const firstRowOf = new Map<string, number>();
  for (const [h, list] of rowsOf) firstRowOf.set(h, list[0]!);
  const opened = openIndex(cacheDir, rows, firstRowOf, log);
  return opened ? { ...opened, rowsOf } : undefined;
}

/**
 * The k nearest rows of one normalised query through the index, scores recomputed exactly from rows.Xn; undefined
 * when the caller should search exactly (too few rows, or no usable index).
 */
export function indexedNearest(
  cacheDir: string,
  rows: IndexRows,
  query: Float32Array,
  k: number,
  excludeRow: number,
  options: IndexSearchOptions = {},
): Neighbours | undefined {
  const opened = openRowsIndex(cacheDir, rows, options);
  if (!opened) return undefined;
  const { rowsOf } = opened;
  const want = Math.min(opened.hashes.length, k + EXTRA_CANDIDATES);
  const found = opened.index.search(query, want, 1);
  const candidates: { row: number; score: number }[] = [];
  for (const key of found.keys) {
    const h = opened.hashes[Number(key)];
    for (const r of (h !== undefined ? rowsOf.get(h) : undefined) ?? []) {
      if (r !== excludeRow) candidates.push({ row: r, score: dot(query, 0, rows.Xn, r * rows.dim, rows.dim) });
    }
  }
  candidates.sort((x, y) => y.score - x.score || x.row - y.row);
  const indices = new Int32Array(k).fill(-1);
  const scores = new Float32Array(k).fill(-Infinity);
  candidates.slice(0, k).forEach((c, t) => {
    indices[t] = c.row;
    scores[t] = c.score;
  });
  return { k, indices, scores };
}
