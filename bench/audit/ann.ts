/**
 * Exact blocked search against two npm HNSW libraries on synthetic clustered embeddings: recall@10 against exact
 * search, build time, query time. The libraries are not convfeat dependencies; install them beside the checkout
 * and point --modules at that node_modules:
 *
 *   (cd /tmp/vec && npm i -E usearch@2.26.2 hnswlib-node@3.0.0)
 *   node bench/out/js/bench/audit/ann.js --modules /tmp/vec/node_modules --n 10000 [--dim 2048] [--queries 100]
 *        [--skip hnswlib,usearch-f32]   (leave out slow builds at large n)
 *        [--cache DIR]                  (real embeddings of a cache instead of synthetic ones; queries are cached rows)
 *
 * Data: --clusters centres drawn N(0, 1) per coordinate, each point = centre + N(0, 0.6²) noise, so every point has a
 * few hundred near neighbours at similar distances (harder for an index than well separated blobs), then
 * L2-normalised. Queries are fresh points from the same clusters. Prints one JSON line per run; figures are medians
 * of the timed queries. Appends to bench/results/audit-ann.json.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createRequire } from 'module';
import { normalizeRows, searchNearest } from '../../src/audit/search';
import { loadSplit } from '../../src/cache';
import { REPO_ROOT, machineLine } from '../extract/common';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function clustered(n: number, dim: number, centres: Float32Array, rand: () => number): Float32Array {
  const nc = centres.length / dim;
  const X = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(rand() * nc);
    for (let j = 0; j < dim; j++) X[i * dim + j] = centres[c * dim + j]! + 0.6 * gaussian(rand);
  }
  return normalizeRows(X, dim);
}

function recall(truth: Int32Array, got: ArrayLike<number>, nq: number, k: number): number {
  let hit = 0;
  for (let q = 0; q < nq; q++) {
    const want = new Set(Array.from(truth.subarray(q * k, (q + 1) * k)));
    for (let t = 0; t < k; t++) if (want.has(Number(got[q * k + t]))) hit++;
  }
  return hit / (nq * k);
}

async function main(): Promise<void> {
  let n = arg('n', 10000);
  let dim = arg('dim', 2048);
  const nq = arg('queries', 100);
  const skipAt = process.argv.indexOf('--skip');
  const skip = new Set(skipAt >= 0 ? process.argv[skipAt + 1]!.split(',') : []);
  const cacheAt = process.argv.indexOf('--cache');
  const cacheDir = cacheAt >= 0 ? process.argv[cacheAt + 1] : undefined;
  const k = 10;
  const modulesAt = process.argv.includes('--modules') ? process.argv[process.argv.indexOf('--modules') + 1]! : '';
  const req = createRequire(path.join(path.resolve(modulesAt || '.'), 'x.js'));
  const rand = rng(42);
  const centres = new Float32Array(arg('clusters', 200) * dim);
  for (let i = 0; i < centres.length; i++) centres[i] = gaussian(rand);
  let t = Date.now();
  let X: Float32Array;
  let Q: Float32Array;
  if (cacheDir) {
    const d = loadSplit(cacheDir);
    dim = d.dim;
    n = d.y.length;
    X = normalizeRows(d.X, dim);
    // Queries: every (n / nq)-th cached row; each finds itself too, for every method alike.
    Q = new Float32Array(nq * dim);
    for (let q = 0; q < nq; q++) {
      const r = Math.floor((q * n) / nq);
      Q.set(X.subarray(r * dim, (r + 1) * dim), q * dim);
    }
  } else {
    X = clustered(n, dim, centres, rand);
    Q = clustered(nq, dim, centres, rand);
  }
  const genSeconds = (Date.now() - t) / 1000;

  t = Date.now();
  const exact = searchNearest(Q, X, dim, k);
  const exactSeconds = (Date.now() - t) / 1000;
  const rows: Record<string, unknown>[] = [];
  rows.push({
    method: 'exact (blocked, 1 thread)',
    buildSeconds: 0,
    queryMsEach: (1000 * exactSeconds) / nq,
    recallAt10: 1,
  });

  // usearch: HNSW in C++ (SIMD distance kernels), f32 vectors, cosine.
  try {
    // Loosely typed: the package is not a convfeat dependency, so its types are not in the checkout.
    const { Index } = req('usearch') as {
      Index: new (c: unknown) => {
        add(k: BigUint64Array, v: Float32Array, threads: number): void;
        search(q: Float32Array, k: number, threads: number): unknown;
      };
    };
    for (const quant of ['f32', 'f16'] as const) {
      if (skip.has(`usearch-${quant}`)) continue;
      const index = new Index({ dimensions: dim, metric: 'cos', quantization: quant, connectivity: 16 });
      const keys = new BigUint64Array(n);
      for (let i = 0; i < n; i++) keys[i] = BigInt(i);
      t = Date.now();
      index.add(keys, X, 2);
      const build = (Date.now() - t) / 1000;
      t = Date.now();
      const got = new Float64Array(nq * k);
      for (let q = 0; q < nq; q++) {
        const m = index.search(Q.subarray(q * dim, (q + 1) * dim), k, 1) as unknown as { keys: BigUint64Array };
        for (let j = 0; j < k; j++) got[q * k + j] = Number(m.keys[j] ?? -1n);
      }
      const query = (Date.now() - t) / nq;
      rows.push({
        method: `usearch 2.26.2 HNSW (${quant}, M 16, 2 build threads)`,
        buildSeconds: build,
        queryMsEach: query,
        recallAt10: recall(exact.indices, got, nq, k),
      });
    }
  } catch (e) {
    rows.push({ method: 'usearch', error: e instanceof Error ? e.message : String(e) });
  }

  // hnswlib-node: the reference hnswlib (Malkov & Yashunin 2018) bound for Node; points go in one JS array each.
  if (!skip.has('hnswlib'))
    try {
      const { HierarchicalNSW } = req('hnswlib-node') as {
        HierarchicalNSW: new (
          space: string,
          dim: number,
        ) => {
          initIndex(n: number, m: number, ef: number, seed: number): void;
          addPoint(p: number[], label: number): void;
          setEf(ef: number): void;
          searchKnn(q: number[], k: number): { neighbors: number[] };
        };
      };
      const index = new HierarchicalNSW('cosine', dim);
      index.initIndex(n, 16, 200, 100);
      t = Date.now();
      for (let i = 0; i < n; i++) index.addPoint(Array.from(X.subarray(i * dim, (i + 1) * dim)), i);
      const build = (Date.now() - t) / 1000;
      for (const ef of [64, 200]) {
        index.setEf(ef);
        const got = new Float64Array(nq * k);
        t = Date.now();
        for (let q = 0; q < nq; q++) {
          const r = index.searchKnn(Array.from(Q.subarray(q * dim, (q + 1) * dim)), k);
          r.neighbors.forEach((v, j) => (got[q * k + j] = v));
        }
        const query = (Date.now() - t) / nq;
        rows.push({
          method: `hnswlib-node 3.0.0 (M 16, efConstruction 200, ef ${ef})`,
          buildSeconds: build,
          queryMsEach: query,
          recallAt10: recall(exact.indices, got, nq, k),
        });
      }
    } catch (e) {
      rows.push({ method: 'hnswlib-node', error: e instanceof Error ? e.message : String(e) });
    }

  const run = {
    machine: machineLine(),
    data: cacheDir ? `real embeddings of ${path.basename(cacheDir)}` : `synthetic, ${centres.length / dim} clusters`,
    n,
    dim,
    queries: nq,
    genSeconds,
    rows,
  };
  process.stdout.write(`${JSON.stringify(run, null, 1)}\n`);
  const out = path.join(REPO_ROOT, 'bench', 'results', 'audit-ann.json');
  const prior = fs.existsSync(out) ? (JSON.parse(fs.readFileSync(out, 'utf8')) as unknown[]) : [];
  fs.writeFileSync(out, `${JSON.stringify([...prior, run], null, 1)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`ann: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
