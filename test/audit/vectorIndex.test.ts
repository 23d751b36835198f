/**
 * The usearch index beside the cache against exact search on a synthetic cache of well-separated clusters: the top
 * 10 must agree (recall@10 = 1, same exact scores), the index must be extended when the cache grows, and a damaged
 * index file must be ignored with one note while exact search answers. Below the row threshold no index is built.
 */
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { auditCache } from '../../src/audit/audit';
import { similarImages } from '../../src/audit/similar';
import { indexDir } from '../../src/audit/vectorIndex';
import { EmbeddingStore, ListingWriter } from '../../src/cache';
import { REPO_ROOT, tmpDir } from '../support/data';
import { seededRandom } from '../support/graphs';

const DIM = 32;
const IDENTITY = { model: 'tiny', modelFingerprint: 'f'.repeat(64), preprocessFingerprint: 'p0', dim: DIM };

interface Row {
  relPath: string;
  label: string;
  vec: Float32Array;
  split?: 'train' | 'test';
}

/** `clusters` tight clusters of `per` rows around random centres (noise ≪ distance between centres). */
function clusterRows(clusters: number, per: number, seed: number, prefix: string, noise = 0.05): Row[] {
  const rnd = seededRandom(seed);
  const rows: Row[] = [];
  for (let c = 0; c < clusters; c++) {
    const centre = Float32Array.from({ length: DIM }, () => rnd() * 2 - 1);
    for (let i = 0; i < per; i++) {
      const vec = centre.map((v) => v + (rnd() - 0.5) * noise);
      rows.push({ relPath: `train/${prefix}${c}/${i}.jpg`, label: `${prefix}${c}`, vec });
    }
  }
  return rows;
}

/** Writes (or rewrites) the cache's train listing with all `rows`; the store keeps rows already there. */
function writeCache(dir: string, rows: Row[]): void {
  const store = EmbeddingStore.open(dir, { mode: 'write', identity: IDENTITY });
  const listing = new ListingWriter(dir);
  const hashes = rows.map((r) => createHash('sha256').update(r.relPath).digest('hex'));
  const X = new Float32Array(rows.length * DIM);
  rows.forEach((r, i) => X.set(r.vec, i * DIM));
  store.putBatch(hashes, X);
  rows.forEach((r, i) =>
    listing.add({
      relPath: r.relPath,
      path: `/data/${r.relPath}`,
      label: r.label,
      split: r.split ?? 'train',
      hash: hashes[i]!,
    }),
  );
  listing.commit();
  store.close();
}

async function compare(
  cache: string,
  queries: string[],
  log?: (line: string) => void,
): Promise<{ recall: number; maxScoreDiff: number }> {
  let hit = 0;
  let total = 0;
  let maxScoreDiff = 0;
  for (const q of queries) {
    const exact = await similarImages(cache, q, { k: 10, exact: true });
    const fast = await similarImages(cache, q, { k: 10, indexMinRows: 100, ...(log ? { log } : {}) });
    const want = new Set(exact.matches.map((m) => m.relPath));
    for (const m of fast.matches) if (want.has(m.relPath)) hit++;
    total += want.size;
    fast.matches.forEach((m, t) => {
      maxScoreDiff = Math.max(maxScoreDiff, Math.abs(m.score - exact.matches[t]!.score));
    });
  }
  return { recall: hit / total, maxScoreDiff };
}

describe('vector index beside the cache', () => {
  const work = tmpDir('vindex');
  const cache = path.join(work, 'cache');
  const rows = clusterRows(20, 15, 5, 'c');
  const queries = rows.filter((_, i) => i % 10 === 3).map((r) => r.relPath);
  const meta = (): { hashes: string[]; modelFingerprint: string } =>
    JSON.parse(fs.readFileSync(path.join(indexDir(cache), 'index.json'), 'utf8'));

  beforeAll(() => writeCache(cache, rows));

  test('below the row threshold, exact search answers and no index is written', async () => {
    const r = await similarImages(cache, queries[0]!, { k: 5 });
    expect(r.matches).toHaveLength(5);
    expect(fs.existsSync(indexDir(cache))).toBe(false);
  });

  test('the index agrees with exact search (recall@10 = 1, same scores) and is reused', async () => {
    const lines: string[] = [];
    const { recall, maxScoreDiff } = await compare(cache, queries, (l) => lines.push(l));
    expect(recall).toBe(1);
    expect(maxScoreDiff).toBeLessThan(1e-6);
    expect(meta().hashes).toHaveLength(300);
    expect(meta().modelFingerprint).toBe(IDENTITY.modelFingerprint);
    // Built by the first query only; the other queries load it.
    expect(lines.filter((l) => /Building the vector index over 300 rows/.test(l))).toHaveLength(1);
  });

  test('the index is extended when the cache grows, and finds the new rows', async () => {
    const more = clusterRows(3, 15, 77, 'n');
    writeCache(cache, rows.concat(more));
    const lines: string[] = [];
    const { recall } = await compare(
      cache,
      more
        .filter((_, i) => i % 5 === 0)
        .map((r) => r.relPath)
        .concat(queries.slice(0, 5)),
      (l) => lines.push(l),
    );
    expect(recall).toBe(1);
    expect(lines.some((l) => /Adding 45 new rows/.test(l))).toBe(true);
    expect(meta().hashes).toHaveLength(345);
    const near = await similarImages(cache, more[0]!.relPath, { k: 10, indexMinRows: 100 });
    expect(near.matches.every((m) => m.label === 'n0')).toBe(true);
  });

  test('a damaged index file is ignored with one note and exact search answers', async () => {
    const graph = path.join(indexDir(cache), 'index.usearch');
    const bytes = fs.readFileSync(graph);
    for (let i = 64; i < bytes.length; i += 97) bytes[i] = bytes[i]! ^ 0xff;
    fs.writeFileSync(graph, bytes);
    const lines: string[] = [];
    const fast = await similarImages(cache, queries[1]!, { k: 10, indexMinRows: 100, log: (l) => lines.push(l) });
    const exact = await similarImages(cache, queries[1]!, { k: 10, exact: true });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/vector index .*index\.usearch is damaged.*using exact search\.$/);
    expect(fast.matches).toEqual(exact.matches);
    // The next run builds a sound index again.
    const again: string[] = [];
    const { recall } = await compare(cache, queries.slice(0, 3), (l) => again.push(l));
    expect(recall).toBe(1);
    expect(again.some((l) => /Building the vector index over 345 rows/.test(l))).toBe(true);
  });

  test('similar --exact on the command line scans every row', () => {
    const run = spawnSync(
      process.execPath,
      [
        path.join(REPO_ROOT, 'dist', 'cli.js'),
        'similar',
        queries[2]!,
        '--cache',
        cache,
        '--exact',
        '--json',
        '-k',
        '3',
      ],
      { encoding: 'utf8' },
    );
    expect(run.status).toBe(0);
    const out = JSON.parse(run.stdout) as { matches: { label: string }[] };
    expect(out.matches.map((m) => m.label)).toEqual(Array(3).fill(queries[2]!.split('/')[1]));
  });
});

describe('audit through the vector index', () => {
  test('finds the same duplicates and outliers as the exact pass', async () => {
    const cache = path.join(tmpDir('vindex-audit'), 'cache');
    // Clusters of 60 (more than the 48 candidates the index gives each row), spread enough that only the planted
    // copy passes the 0.85 near-duplicate threshold.
    const rows = clusterRows(12, 60, 9, 'c', 1.6);
    // A test-split copy of a train row (leakage), and a row of cluster c1 labelled c2 (its 48 nearest rows are all of
    // another class, so the index's candidates hold no same-class neighbour: that row is searched exactly).
    const copy = rows[100]!.vec.map((v, j) => v + (j % 2 ? 1e-3 : -1e-3));
    const extra: Row[] = [
      { relPath: 'test/c1/copy.jpg', label: 'c1', vec: copy, split: 'test' },
      { relPath: 'train/c2/odd.jpg', label: 'c2', vec: rows[70]!.vec.map((v) => v * 1.01) },
    ];
    writeCache(cache, rows.concat(extra));
    const lines: string[] = [];
    const common = { verifyPixels: false, folds: 3 };
    const fast = await auditCache(cache, { ...common, indexMinRows: 100, log: (l) => lines.push(l) });
    const exact = await auditCache(cache, { ...common, exact: true });
    expect(fs.existsSync(indexDir(cache))).toBe(true);
    expect(lines.some((l) => /searched exactly/.test(l))).toBe(true);
    const found = fast.duplicates.map((d) => [fast.rows[d.a]!.relPath, fast.rows[d.b]!.relPath].sort());
    expect(found).toContainEqual(['test/c1/copy.jpg', 'train/c1/40.jpg']);
    expect(fast.duplicates).toEqual(exact.duplicates);
    // The index is approximate: an occasional missed neighbour moves a class median slightly, never the verdict.
    expect(fast.outliers.map((o) => o.row)).toEqual(exact.outliers.map((o) => o.row));
    fast.outliers.forEach((o, t) =>
      expect(Math.abs(o.groupMedian - exact.outliers[t]!.groupMedian)).toBeLessThan(0.02),
    );
  });
});
