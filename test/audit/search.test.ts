/**
 * Exact search and the pure audit pieces on synthetic data with known answers: blocked products must equal a naive
 * double loop (block edges included), confident learning must flag a row whose out-of-fold probabilities point at
 * another class, duplicates must put cross-split pairs first, and the exclude reader must honour the exclude column.
 */
import * as fs from 'fs';
import * as path from 'path';
import { normalizeRows, searchNearest, selfSearch } from '../../src/audit/search';
import { confidentLearning } from '../../src/audit/labels';
import { findDuplicates, leakedRows } from '../../src/audit/duplicates';
import { findOutliers, neighbourScores } from '../../src/audit/outliers';
import { readExcludeFile } from '../../src/audit/csv';
import { tmpDir } from '../support/data';
import { asCli } from '../support/cli';

function randomMatrix(n: number, dim: number, seed: number): Float32Array {
  let s = seed;
  const X = new Float32Array(n * dim);
  for (let i = 0; i < X.length; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    X[i] = s / 2147483648 - 0.5;
  }
  return X;
}

function naiveCos(X: Float32Array, dim: number, i: number, j: number): number {
  let d = 0;
  let a = 0;
  let b = 0;
  for (let t = 0; t < dim; t++) {
    d += X[i * dim + t]! * X[j * dim + t]!;
    a += X[i * dim + t]! ** 2;
    b += X[j * dim + t]! ** 2;
  }
  return d / Math.sqrt(a * b);
}

describe('exact search', () => {
  // 300 rows cross the 64-row query and 256-row base blocks; dim 37 exercises the unrolled loop's tail.
  const n = 300;
  const dim = 37;
  const X = randomMatrix(n, dim, 3);
  // Row 299 is a scaled copy of row 5 (cosine 1) and row 100 a slightly perturbed copy of row 270.
  for (let t = 0; t < dim; t++) {
    X[299 * dim + t] = 3 * X[5 * dim + t]!;
    X[100 * dim + t] = X[270 * dim + t]! + (t % 2 ? 0.01 : -0.01);
  }
  const Xn = normalizeRows(X, dim);

  test('top-k of every row equals a naive search', () => {
    const k = 4;
    const { neighbours } = selfSearch(Xn, dim, { k });
    for (const i of [0, 5, 63, 64, 100, 255, 256, 299]) {
      const naive = Array.from({ length: n }, (_, j) => j)
        .filter((j) => j !== i)
        .map((j) => ({ j, s: naiveCos(X, dim, i, j) }))
        .sort((a, b) => b.s - a.s)
        .slice(0, k);
      expect(Array.from(neighbours.indices.subarray(i * k, (i + 1) * k))).toEqual(naive.map((x) => x.j));
      naive.forEach((x, t) => expect(neighbours.scores[i * k + t]).toBeCloseTo(x.s, 5));
    }
  });

  test('pairs above a threshold are exactly the planted ones', () => {
    const { pairs } = selfSearch(Xn, dim, { k: 1, pairThreshold: 0.99 });
    expect(pairs.map((p) => [p.a, p.b])).toEqual([
      [5, 299],
      [100, 270],
    ]);
    expect(pairs[0]!.score).toBeCloseTo(1, 5);
  });

  test('searchNearest finds a query among base rows and honours exclusion', () => {
    const q = Xn.slice(270 * dim, 271 * dim);
    const nb = searchNearest(q, Xn, dim, 2);
    expect(Array.from(nb.indices)).toEqual([270, 100]);
    const without = searchNearest(q, Xn, dim, 1, (_, j) => j === 270);
    expect(without.indices[0]).toBe(100);
  });

  test('a zero row is similar to nothing instead of NaN', () => {
    const Z = normalizeRows(new Float32Array([0, 0, 1, 0]), 2);
    expect(Array.from(Z)).toEqual([0, 0, 1, 0]);
  });
});

describe('confident learning', () => {
  test('flags the row whose probabilities point elsewhere, with the suggested class', () => {
    // 3 classes, 4 rows each, confident and right, except row 2 (labelled 0, looks like class 2).
    const K = 3;
    const labels = Int32Array.from([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    const probs = new Float32Array(12 * K);
    labels.forEach((y, i) => {
      probs.set([0.05, 0.05, 0.05], i * K);
      probs[i * K + y] = 0.9;
    });
    probs.set([0.03, 0.03, 0.94], 2 * K);
    probs.set([0.6, 0.3, 0.1], 5 * K); // labelled 1 but leaning 0: still below t_0 (0.68), so not confidently class 0
    const cl = confidentLearning(probs, labels, K);
    expect(cl.thresholds[0]).toBeCloseTo((0.9 * 3 + 0.03) / 4, 5);
    expect(cl.issues.map((i) => [i.row, i.given, i.suggested])).toEqual([[2, 0, 2]]);
    expect(cl.confidentJoint[0 * K + 2]).toBe(1);
  });

  test('unlabelled rows are ignored', () => {
    const cl = confidentLearning(new Float32Array([0.5, 0.5, 0.9, 0.1]), Int32Array.from([-1, 0]), 2);
    expect(cl.issues).toEqual([]);
    expect(Number.isNaN(cl.thresholds[1])).toBe(true);
  });
});

describe('duplicates and outliers', () => {
  test('cross-split pairs first, exact before near; the later split is the copy', () => {
    const hashes = ['h0', 'h1', 'h0', 'h3', 'h4'];
    const splits = ['test', 'train', 'train', 'train', 'train'];
    const dups = findDuplicates(hashes, splits, [
      { a: 1, b: 3, score: 0.99 },
      { a: 0, b: 4, score: 0.95 },
      { a: 0, b: 2, score: 1 },
    ]);
    expect(dups.map((p) => [p.a, p.b, p.kind, p.crossSplit])).toEqual([
      [2, 0, 'exact', true],
      [4, 0, 'near', true],
      [1, 3, 'near', false],
    ]);
    expect([...leakedRows(dups, splits, 'test')]).toEqual([0]);
  });

  test('an image far below its class median is an outlier; a uniformly loose class is not', () => {
    const k = 1;
    const scores = [0.8, 0.81, 0.79, 0.8, 0.82, 0.2, 0.5, 0.45, 0.55, 0.5, 0.48];
    const nb = { k, indices: new Int32Array(scores.length), scores: Float32Array.from(scores) };
    const groups = Int32Array.from([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    const out = findOutliers(neighbourScores(nb), groups, 3.5);
    expect(out.map((o) => o.row)).toEqual([5]);
  });
});

describe('--exclude file', () => {
  const dir = tmpDir('exclude');
  test('rows with exclude = no are kept; relPath and path both count', () => {
    const file = path.join(dir, 'issues.csv');
    fs.writeFileSync(
      file,
      'exclude,issue,relPath,path\nyes,leak,test/a.jpg,/d/test/a.jpg\nno,outlier,train/b.jpg,/d/train/b.jpg\n,x,train/c.jpg,\n',
    );
    expect([...readExcludeFile(file)].sort()).toEqual(['/d/test/a.jpg', 'test/a.jpg']);
  });
  test('a CSV without relPath or path is refused with a sentence', () => {
    const file = path.join(dir, 'bad.csv');
    fs.writeFileSync(file, 'name\nx\n');
    expect(() => readExcludeFile(file)).toThrow(/no relPath or path column/);
    expect(() => readExcludeFile(path.join(dir, 'missing.csv'))).toThrow(/Cannot read excludeFile /);
    expect(() => asCli(() => readExcludeFile(path.join(dir, 'missing.csv')))).toThrow(/Cannot read --exclude /);
  });
});
