/**
 * Temperature scaling judged by what it is for, against references the code does not compute: on scores whose true
 * class probabilities are known (softmax(s / T₀)), the fitted T is near T₀ and held-out log-loss and ECE improve over
 * T = 1; the label smoothing (ε = 1 / (n + 2)) is checked through the temperature it implies in closed form.
 */
import { fitTemperature, softmaxRows } from '../../src/linear/calibration';
import { LinearClassifier } from '../../src/linear/classifier';
import { toEmbeddings } from '../../src/util/embeddings';
import { Prng } from '../../src/util/prng';
import { blobs } from './helpers';

const K = 4;

/** Scores with known probabilities: logits ~ N(0, 3²), labels drawn from softmax(logits / T₀). */
function synthetic(n: number, T0: number, seed: number): { scores: Float32Array; labels: Int32Array } {
  const rng = new Prng(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const scores = new Float32Array(n * K);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < K; k++) scores[i * K + k] = 3 * gauss();
    // Draw the label from the true probabilities, computed here in double precision (not with the code under test).
    const z = Array.from({ length: K }, (_, k) => Math.exp(scores[i * K + k] / T0));
    const total = z.reduce((a, b) => a + b, 0);
    let u = rng.next() * total;
    let k = 0;
    while (k < K - 1 && u >= z[k]) u -= z[k++];
    labels[i] = k;
  }
  return { scores, labels };
}

/** Mean negative log-likelihood of softmax(scores / T), written out independently of src/linear/calibration. */
function nll(scores: Float32Array, labels: Int32Array, T: number): number {
  let total = 0;
  for (let i = 0; i < labels.length; i++) {
    const z = Array.from({ length: K }, (_, k) => scores[i * K + k] / T);
    const max = Math.max(...z);
    const logZ = max + Math.log(z.reduce((a, v) => a + Math.exp(v - max), 0));
    total += logZ - z[labels[i]];
  }
  return total / labels.length;
}

/** Expected calibration error of the top-1 confidence, 15 equal-width bins (Guo et al. 2017). */
function ece(probs: Float32Array, labels: Int32Array, bins = 15): number {
  const count = new Float64Array(bins);
  const conf = new Float64Array(bins);
  const hits = new Float64Array(bins);
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (probs[i * K + k] > probs[i * K + best]) best = k;
    const p = probs[i * K + best];
    const b = Math.min(bins - 1, Math.floor(p * bins));
    count[b]++;
    conf[b] += p;
    if (best === labels[i]) hits[b]++;
  }
  let e = 0;
  for (let b = 0; b < bins; b++) if (count[b]) e += Math.abs(hits[b] - conf[b]);
  return e / labels.length;
}

describe('temperature scaling on scores with known probabilities', () => {
  const T0 = 2.5;
  const fit = synthetic(4000, T0, 11);
  const heldOut = synthetic(4000, T0, 12);

  test('the fitted T is near the true T₀ = 2.5, and held-out NLL and ECE improve over T = 1', () => {
    const T = fitTemperature(fit.scores, K, fit.labels);
    expect(T).toBeGreaterThan(T0 * 0.9);
    expect(T).toBeLessThan(T0 * 1.1);
    const [nllFitted, nllOne, nllTrue] = [T, 1, T0].map((t) => nll(heldOut.scores, heldOut.labels, t));
    expect(nllFitted).toBeLessThan(nllOne - 0.1); // overconfident at T = 1: a large, not a marginal, gain
    expect(nllFitted).toBeLessThan(nllTrue + 0.005); // as good as the true temperature, up to sampling noise
    const eceFitted = ece(softmaxRows(heldOut.scores, K, T), heldOut.labels);
    const eceOne = ece(softmaxRows(heldOut.scores, K, 1), heldOut.labels);
    expect(eceFitted).toBeLessThan(0.03);
    expect(eceOne).toBeGreaterThan(0.1);
  });

  test('underconfident scores (true T₀ = 0.5) get T < 1, near T₀', () => {
    const cold = synthetic(4000, 0.5, 13);
    const T = fitTemperature(cold.scores, K, cold.labels);
    expect(T).toBeGreaterThan(0.45);
    expect(T).toBeLessThan(0.55);
  });

  test('LinearClassifier: an SVM calibrated on val has lower held-out log-loss than its raw scores at T = 1', async () => {
    const train = blobs(300, 6, K, 41, 1.2, 2);
    const val = blobs(300, 6, K, 42, 1.2, 2);
    const test = blobs(600, 6, K, 43, 1.2, 2);
    const clf = await new LinearClassifier({ solver: 'svm', C: 1, scale: 'none', threads: 1 }).fit(
      toEmbeddings(train.X, 6),
      train.y,
      {
        val: { X: toEmbeddings(val.X, 6), y: val.y },
      },
    );
    expect(clf.calibratedOn).toBe('val');
    const raw = clf.decisionFunction(test.X);
    const P = clf.predictProba(test.X);
    let calibrated = 0;
    for (let i = 0; i < test.y.length; i++) calibrated -= Math.log(P[i * K + test.y[i]]);
    calibrated /= test.y.length;
    expect(calibrated).toBeCloseTo(nll(raw, test.y, clf.temperature), 4); // predictProba is softmax(f / T)
    expect(calibrated).toBeLessThan(nll(raw, test.y, 1) - 0.05);
  });
});

describe('label smoothing ε = 1 / (n + 2)', () => {
  /** n identical rows scored (m, 0, …, 0), all labelled 0: a perfectly separated calibration set. */
  function separated(n: number, m: number, classes: number): { scores: Float32Array; labels: Int32Array } {
    const scores = new Float32Array(n * classes);
    for (let i = 0; i < n; i++) scores[i * classes] = m;
    return { scores, labels: new Int32Array(n) };
  }

  test.each([
    [9, 4, 2],
    [9, 4, 3],
    [98, 6, 4],
  ])(
    'n = %i rows at margin %i, %i classes: T = m / ln((K − 1)(n + 1)), so p(label) = 1 − 1/(n + 2)',
    (n, m, classes) => {
      // The smoothed targets put 1 − ε on the label and ε / (K − 1) on each other class; their cross-entropy is least
      // where the model's probabilities equal them: e^(m/T) / (e^(m/T) + K − 1) = 1 − ε, i.e. e^(m/T) = (K − 1)(n + 1).
      // Without smoothing a separated set drives T to the search's lower bound and every probability to 1.
      const { scores, labels } = separated(n, m, classes);
      const T = fitTemperature(scores, classes, labels);
      const expected = m / Math.log((classes - 1) * (n + 1));
      expect(Math.abs(T / expected - 1)).toBeLessThan(1e-3);
      const p = softmaxRows(scores, classes, T);
      expect(p[0]).toBeCloseTo(1 - 1 / (n + 2), 4);
    },
  );
});
