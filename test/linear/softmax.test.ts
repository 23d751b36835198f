import { minimizeLbfgs } from '../../src/linear/lbfgs';
import { fitSoftmax, softmaxObjective } from '../../src/linear/softmax';
import { allRows } from '../../src/linear/data';
import { LinearClassifier } from '../../src/linear/classifier';
import { toEmbeddings } from '../../src/util/embeddings';
import { accuracyOf, blobs } from './helpers';
import sklearnFixture from './fixtures/sklearn-softmax.json';

describe('L-BFGS', () => {
  test('finds the minimum of the Rosenbrock function in 2 and 10 dimensions', () => {
    const rosen = (x: Float64Array, g: Float64Array): number => {
      let f = 0;
      g.fill(0);
      for (let i = 0; i + 1 < x.length; i++) {
        const a = x[i + 1] - x[i] * x[i];
        const b = 1 - x[i];
        f += 100 * a * a + b * b;
        g[i] += -400 * x[i] * a - 2 * b;
        g[i + 1] += 200 * a;
      }
      return f;
    };
    for (const n of [2, 10]) {
      const x0 = new Float64Array(n).fill(-1.2);
      x0[n - 1] = 1;
      const res = minimizeLbfgs(rosen, x0, { gtol: 1e-9, ftol: 0, maxIter: 2000 });
      expect(res.stop).toBe('gtol');
      for (const v of res.x) expect(v).toBeCloseTo(1, 5);
      expect(res.f).toBeLessThan(1e-10);
    }
  });
});

describe('softmax (multinomial logistic regression)', () => {
  const { X, y } = blobs(150, 5, 3, 4, 0.7, 2);
  const data = { X, dim: 5, labels: y, rows: allRows(150) };
  const opts = { C: 2, classes: 3, classWeight: Float64Array.of(1, 2, 0.5), gtol: 1e-6, maxIter: 200, m: 10 };

  test('analytic gradient matches central finite differences', () => {
    const { fg } = softmaxObjective(data, opts);
    const W = new Float64Array(3 * 6).map((_, i) => Math.sin(i + 1) * 0.3);
    const G = new Float64Array(W.length);
    fg(W, G);
    const tmp = new Float64Array(W.length);
    const h = 1e-6;
    for (let i = 0; i < W.length; i++) {
      const Wp = Float64Array.from(W);
      const Wm = Float64Array.from(W);
      Wp[i] += h;
      Wm[i] -= h;
      const numeric = (fg(Wp, tmp) - fg(Wm, tmp)) / (2 * h);
      expect(Math.abs(numeric - G[i])).toBeLessThan(1e-7 + 1e-5 * Math.abs(G[i]));
    }
  });

  test('log-sum-exp stays finite for huge scores', () => {
    const { fg } = softmaxObjective(data, opts);
    const W = new Float64Array(18).fill(1e4);
    W[0] = -1e4;
    const G = new Float64Array(18);
    expect(Number.isFinite(fg(W, G))).toBe(true);
    expect(G.every(Number.isFinite)).toBe(true);
  });

  test('three Gaussian blobs: high accuracy, a training curve with val points, loss decreasing', () => {
    const val = blobs(90, 5, 3, 99, 0.7, 2);
    const res = fitSoftmax(
      data,
      { ...opts, classWeight: Float64Array.of(1, 1, 1) },
      { X: val.X, dim: 5, labels: val.y, rows: allRows(90) },
    );
    expect(res.history.length).toBe(res.iterations + 1);
    const first = res.history[0];
    const lastPoint = res.history[res.history.length - 1];
    expect(first.trainLoss).toBeCloseTo(Math.log(3), 6); // W = 0 predicts uniformly
    expect(lastPoint.trainLoss).toBeLessThan(0.2);
    expect(lastPoint.trainAccuracy).toBeGreaterThan(0.95);
    expect(lastPoint.valAccuracy).toBeGreaterThan(0.9);
    expect(lastPoint.valLoss).toBeDefined();
  });

  test('predictProba rows sum to 1 and argmax equals predict', async () => {
    const clf = await new LinearClassifier({ solver: 'softmax', C: 10, scale: 'standard' }).fit(toEmbeddings(X, 5), y);
    const P = clf.predictProba(X);
    const pred = clf.predict(X);
    expect(accuracyOf(pred, y)).toBeGreaterThan(0.95);
    for (let i = 0; i < 150; i++) {
      let s = 0;
      let best = 0;
      for (let k = 0; k < 3; k++) {
        s += P[i * 3 + k];
        if (P[i * 3 + k] > P[i * 3 + best]) best = k;
      }
      expect(s).toBeCloseTo(1, 5);
      expect(best).toBe(pred[i]);
    }
    expect(clf.history?.length).toBeGreaterThan(1);
  });
});

/**
 * The optimum against references computed without convfeat's objective or gradient (a finite-difference check
 * compares the code with itself, so a wrong constant in both passes it).
 */
describe('softmax optimum against independent solutions', () => {
  test('scikit-learn: LogisticRegression(multi_class="multinomial") with the same C gives the same W and intercepts', () => {
    // The fixture's objective is C · Σ_i s_i · CE_i + ½‖W‖², intercepts unpenalised: convfeat's, so C maps 1:1
    // (λ = 1 / C on the summed loss). Each case records its exact call; make_sklearn_softmax.py regenerates them.
    const { X, y, dim, classes: K, cases } = sklearnFixture;
    const n = y.length;
    const data = { X: Float32Array.from(X.flat()), dim, labels: Int32Array.from(y), rows: allRows(n) };
    expect(cases.map((c) => c.C)).toEqual([0.1, 10, 1]);
    for (const c of cases) {
      const res = fitSoftmax(data, {
        C: c.C,
        classes: K,
        classWeight: Float64Array.from(c.classWeight),
        gtol: 1e-10,
        maxIter: 2000,
        m: 10,
      });
      // Intercepts are defined up to a common shift: compare them centred. L-BFGS stops on its relative-decrease
      // rule (ftol ≈ 2e-9, scipy's default) with W within about 1e-4 of the optimum; halving the L2 term moves W by
      // 10–50 % of its size on these three cases.
      const centred = (v: ArrayLike<number>): number[] => {
        const mean = Array.from(v).reduce((a, x) => a + x, 0) / v.length;
        return Array.from(v, (b) => b - mean);
      };
      const ours = centred(Array.from({ length: K }, (_, k) => res.W[k * (dim + 1) + dim]));
      const theirs = centred(c.intercept);
      let worst = 0;
      for (let k = 0; k < K; k++) {
        for (let j = 0; j < dim; j++) worst = Math.max(worst, Math.abs(res.W[k * (dim + 1) + j] - c.coef[k][j]));
        worst = Math.max(worst, Math.abs(ours[k] - theirs[k]));
      }
      expect({ call: c.call, withinTolerance: worst < 1e-3 }).toEqual({ call: c.call, withinTolerance: true });
    }
  });

  test('closed form: two symmetric points per class in 1-D, a = 2nC·σ(−2a)', () => {
    // n copies of x = +1 (class 1) and of x = −1 (class 0). By symmetry the optimum is w₁ = −w₀ = a, b = 0, and
    // C · 2n · log(1 + e^(−2a)) + a² is stationary where a = 2nC · σ(−2a): a 1-D root, found here by bisection.
    const n = 5;
    const X = new Float32Array(2 * n);
    const labels = new Int32Array(2 * n);
    for (let i = 0; i < n; i++) {
      X[i] = 1;
      labels[i] = 1;
      X[n + i] = -1;
    }
    const sigmoid = (t: number): number => 1 / (1 + Math.exp(-t));
    for (const C of [0.1, 1]) {
      let lo = 0;
      let hi = 2 * n * C; // the right side never exceeds 2nC
      for (let it = 0; it < 200; it++) {
        const mid = (lo + hi) / 2;
        if (mid - 2 * n * C * sigmoid(-2 * mid) < 0) lo = mid;
        else hi = mid;
      }
      const a = (lo + hi) / 2;
      const res = fitSoftmax(
        { X, dim: 1, labels, rows: allRows(2 * n) },
        { C, classes: 2, classWeight: Float64Array.of(1, 1), gtol: 1e-12, maxIter: 500, m: 5 },
      );
      // W rows: [w₀, b₀, w₁, b₁]
      expect(res.W[2]).toBeCloseTo(a, 5);
      expect(res.W[0]).toBeCloseTo(-a, 5);
      expect(res.W[1]).toBeCloseTo(0, 5);
      expect(res.W[3]).toBeCloseTo(0, 5);
    }
  });
});
