import { minimizeLbfgs } from '../../src/linear/lbfgs';
import { fitSoftmax, softmaxObjective } from '../../src/linear/softmax';
import { allRows } from '../../src/linear/data';
import { LinearClassifier } from '../../src/linear/classifier';
import { accuracyOf, blobs } from './helpers';

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
    const clf = await new LinearClassifier({ solver: 'softmax', C: 10, scale: 'standard' }).fit(X, y, { dim: 5 });
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
