/**
 * Model selection judged against answers worked out independently of the search: a problem whose best held-out C is
 * known before the search runs, and cross-validation that must not see a fold's test rows while training on it.
 */
import { LinearClassifier } from '../../src/linear/classifier';
import { toEmbeddings } from '../../src/util/embeddings';
import { stratifiedFolds } from '../../src/linear/search';
import { Prng } from '../../src/util/prng';

/**
 * Two-class softmax in 1-D, solved here by Newton's method (not with convfeat's solver): with w₁ = −w₀ (the optimum
 * keeps Σ_k w_k = 0) the objective C · Σ_i log(1 + e^(−t_i (u·x_i + v))) + u²/4, t_i = ±1, is convex in the weight
 * difference u = w₁ − w₀ and the unpenalised bias difference v. Returns the decision threshold x* = −v / u.
 */
function threshold(x: number[], t: number[], C: number): number {
  let u = 0;
  let v = 0;
  const objective = (uu: number, vv: number): number =>
    x.reduce((s, xi, i) => s + C * Math.log1p(Math.exp(-t[i] * (uu * xi + vv))), 0) + (uu * uu) / 4;
  for (let it = 0; it < 100; it++) {
    let gu = u / 2;
    let gv = 0;
    let huu = 0.5;
    let huv = 0;
    let hvv = 0;
    for (let i = 0; i < x.length; i++) {
      const m = t[i] * (u * x[i] + v);
      const s = 1 / (1 + Math.exp(m)); // σ(−m)
      gu -= C * s * t[i] * x[i];
      gv -= C * s * t[i];
      const c = C * s * (1 - s);
      huu += c * x[i] * x[i];
      huv += c * x[i];
      hvv += c;
    }
    if (Math.max(Math.abs(gu), Math.abs(gv)) < 1e-13) break;
    const det = huu * hvv - huv * huv;
    const du = (hvv * gu - huv * gv) / det;
    const dv = (huu * gv - huv * gu) / det;
    let step = 1;
    const f0 = objective(u, v);
    while (step > 1e-12 && objective(u - step * du, v - step * dv) > f0) step /= 2;
    u -= step * du;
    v -= step * dv;
  }
  return -v / u;
}

describe('C search', () => {
  test('picks the one C of the grid whose model classifies every val point, known before the search runs', async () => {
    // Training: 30 negatives at x = −1, 10 positives at x = +1. Strong regularisation leaves the unpenalised bias to
    // carry the class prior, so the threshold x*(C) starts far right and falls toward the gap as C grows.
    const xTrain = [...Array(30).fill(-1), ...Array(10).fill(1)] as number[];
    const yTrain = [...Array(30).fill(0), ...Array(10).fill(1)] as number[];
    const grid = [0.003, 0.01, 0.03, 0.1, 0.3, 1];
    const t = grid.map((C) =>
      threshold(
        xTrain,
        yTrain.map((y) => (y ? 1 : -1)),
        C,
      ),
    );
    for (let j = 1; j < t.length; j++) expect(t[j]).toBeLessThan(t[j - 1] - 0.05); // well separated, decreasing
    // Val: negatives just right of x*(C₄) and positives just left of x*(C₂): only C₃ = 0.1 (threshold between them)
    // classifies both; every other C gets one side wrong (50 %).
    const best = 3;
    const xNeg = (t[best + 1] + t[best]) / 2;
    const xPos = (t[best] + t[best - 1]) / 2;
    const xVal = Float32Array.from([xNeg, xNeg, xNeg, xPos, xPos, xPos]);
    const yVal = Int32Array.of(0, 0, 0, 1, 1, 1);

    const clf = await new LinearClassifier({
      solver: 'softmax',
      C: 'auto',
      cGrid: grid,
      scale: 'none',
      tol: 1e-10,
      maxIter: 1000,
    }).fit(toEmbeddings(Float32Array.from(xTrain), 1), Int32Array.from(yTrain), {
      val: { X: toEmbeddings(xVal, 1), y: yVal },
    });

    expect(clf.cSearch?.method).toBe('val');
    expect(clf.C).toBe(grid[best]);
    // The table is the search's own account; its scores must be what the thresholds imply.
    expect(clf.cSearch!.table.map((r) => r.score)).toEqual(
      grid.slice(0, clf.cSearch!.table.length).map((_, j) => (j === best ? 1 : 0.5)),
    );
    // ...and the model kept is the one trained at the chosen C, not the last one the walk tried.
    const ownThreshold = -(clf.bias[1] - clf.bias[0]) / (clf.weights[1] - clf.weights[0]);
    expect(ownThreshold).toBeCloseTo(t[best], 4);
    expect(Array.from(clf.predict(xVal))).toEqual(Array.from(yVal));
  });
});

describe('cross-validation folds', () => {
  test('stratifiedFolds: every row in exactly one fold, each class spread evenly over the folds', () => {
    const counts = [23, 7, 40, 3];
    const labels = Int32Array.from(counts.flatMap((c, k) => Array(c).fill(k)));
    // Shuffle the rows so that class runs are not contiguous.
    const rng = new Prng(5);
    for (let i = labels.length - 1; i > 0; i--) {
      const j = rng.below(i + 1);
      [labels[i], labels[j]] = [labels[j], labels[i]];
    }
    for (const folds of [2, 3, 5]) {
      const fold = stratifiedFolds(labels, counts.length, folds, 17);
      expect(fold.length).toBe(labels.length); // one fold id per row: the folds are disjoint and cover every row
      for (const f of fold) expect(f >= 0 && f < folds && Number.isInteger(f)).toBe(true);
      for (let k = 0; k < counts.length; k++) {
        const perFold = Array(folds).fill(0);
        for (let i = 0; i < labels.length; i++) if (labels[i] === k) perFold[fold[i]]++;
        expect(Math.max(...perFold) - Math.min(...perFold)).toBeLessThanOrEqual(1); // stratified
      }
      const sizes = Array(folds).fill(0);
      for (const f of fold) sizes[f]++;
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
  });

  test('CV scores held-out rows only: random labels in 200 dimensions score near chance, not the training accuracy', async () => {
    // 60 rows, 200 random features, random labels: any C fits the training rows perfectly, and no model can predict
    // rows it has not seen. A fold trained on its own test rows would score ≈ 100 %.
    const n = 60;
    const dim = 200;
    const rng = new Prng(9);
    const X = Float32Array.from({ length: n * dim }, () => rng.next() * 2 - 1);
    const y = Int32Array.from({ length: n }, (_, i) => i % 2);
    for (let i = n - 1; i > 0; i--) {
      const j = rng.below(i + 1);
      [y[i], y[j]] = [y[j], y[i]];
    }
    for (const solver of ['svm', 'softmax'] as const) {
      const clf = await new LinearClassifier({ solver, C: 'auto', cGrid: [1, 10, 100], folds: 5, threads: 1 }).fit(
        toEmbeddings(X, dim),
        y,
      );
      expect(clf.cSearch?.method).toBe('cv');
      const training = clf.predict(X).reduce((s, p, i) => s + (p === y[i] ? 1 : 0), 0) / n;
      expect(training).toBe(1); // the data can be memorised...
      for (const row of clf.cSearch!.table) expect(row.score).toBeLessThan(0.75); // ...but CV must not see it
    }
  });
});
