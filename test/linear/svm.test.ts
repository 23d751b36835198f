import { solveL2rL2Svc } from '../../src/linear/svm';
import { LinearClassifier } from '../../src/linear/classifier';
import { toEmbeddings } from '../../src/util/embeddings';
import { allRows } from '../../src/linear/data';
import { accuracyOf, blobs } from './helpers';

const ones = Float64Array.of(1, 1);

describe('dual coordinate descent (L2-loss SVM)', () => {
  test('symmetric 2-D points: w = 4C/(1+4C) on x, zero bias', () => {
    // Points (±1, 0) with labels ±1. The primal 0.5‖w̃‖² + C Σ (1 − y w̃·x̃)² has w̃ = (4C/(1+4C), 0, 0).
    const X = Float32Array.of(-1, 0, 1, 0);
    const labels = Int32Array.of(0, 1);
    for (const C of [0.25, 1, 4]) {
      const res = solveL2rL2Svc(
        { X, dim: 2, rows: allRows(2), labels, positive: 1, cOfClass: ones.map(() => C) },
        { eps: 1e-9, maxIter: 10000, seed: 3 },
      );
      expect(res.w[0]).toBeCloseTo((4 * C) / (1 + 4 * C), 6);
      expect(res.w[1]).toBeCloseTo(0, 9);
      expect(res.w[2]).toBeCloseTo(0, 6);
      expect(res.converged).toBe(true);
    }
  });

  test('asymmetric 2-D points: the regularised bias solved by hand', () => {
    // +1 at (2, 0), −1 at (0, 0), C = 1. Both margins are active; setting the primal gradient to zero gives
    // 9a + 4b = 4 and 4a + 5b = 0, so a = 20/29, b = −16/29.
    const X = Float32Array.of(2, 0, 0, 0);
    const labels = Int32Array.of(1, 0);
    const res = solveL2rL2Svc(
      { X, dim: 2, rows: allRows(2), labels, positive: 1, cOfClass: ones },
      { eps: 1e-10, maxIter: 10000, seed: 1 },
    );
    expect(res.w[0]).toBeCloseTo(20 / 29, 6);
    expect(res.w[1]).toBeCloseTo(0, 9);
    expect(res.w[2]).toBeCloseTo(-16 / 29, 6);
  });

  test('warm start from a smaller C converges to the same solution', () => {
    const { X, y } = blobs(200, 6, 2, 5, 1.5, 1);
    const p = { X, dim: 6, rows: allRows(200), labels: y, positive: 1, cOfClass: Float64Array.of(0.5, 0.5) };
    const cold = solveL2rL2Svc(p, { eps: 1e-8, maxIter: 100000, seed: 1 });
    const small = solveL2rL2Svc(
      { ...p, cOfClass: Float64Array.of(0.05, 0.05) },
      { eps: 1e-8, maxIter: 100000, seed: 1 },
    );
    const warm = solveL2rL2Svc(p, { eps: 1e-8, maxIter: 100000, seed: 1 }, small.alpha);
    for (let j = 0; j < 7; j++) expect(warm.w[j]).toBeCloseTo(cold.w[j], 5);
  });

  test('separable blobs: 100 % training accuracy, one-vs-rest over 4 classes', async () => {
    const { X, y } = blobs(400, 8, 4, 11, 0.4);
    const clf = await new LinearClassifier({ solver: 'svm', C: 1, scale: 'none', threads: 1 }).fit(
      toEmbeddings(X, 8),
      y,
    );
    expect(accuracyOf(clf.predict(X), y)).toBe(1);
    expect(clf.converged).toBe(true);
  });

  test('the same seed gives identical weights; the seed drives the permutation', async () => {
    const { X, y } = blobs(300, 10, 3, 2, 1.2);
    const fit = (seed: number) =>
      new LinearClassifier({ solver: 'svm', C: 10, scale: 'none', seed, threads: 1 }).fit(toEmbeddings(X, 10), y);
    const a = await fit(7);
    const b = await fit(7);
    const c = await fit(8);
    expect(Array.from(a.weights)).toEqual(Array.from(b.weights));
    expect(Array.from(a.weights)).not.toEqual(Array.from(c.weights));
  });
});
