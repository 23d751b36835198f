/**
 * evaluate on a real cache (real photos through the tiny backbone): its figures equal an accuracy computed here from
 * the cache's rows and the classifier's scores, and a classifier whose class order differs from the cache's (the
 * same model, rows permuted) scores exactly the same, class by class, because ids are matched by name.
 */
import * as fs from 'fs';
import * as path from 'path';
import { openBackbone, prepareBackbone } from '../../src/backbone/load';
import { extractDataset, loadSplit } from '../../src/cache';
import { scanDataset } from '../../src/dataset';
import { LinearClassifier } from '../../src/linear/classifier';
import { fitFromCache } from '../../src/linear/fitCache';
import { evaluateOnCache } from '../../src/report/evaluate';
import { photos, tmpDir } from '../support/data';
import { writeTinyBackbone } from '../support/tinyBackbone';

const CLASSES = ['airplane', 'car', 'flower'];

/** The same model with its classes in another order: class k moves to position perm[k]. */
function permuted(clf: LinearClassifier, perm: number[]): LinearClassifier {
  const json = clf.toJSON();
  const K = json.classes.length;
  const D = json.dim;
  const classes = new Array<string>(K);
  const weights = new Array<number>(K * D);
  const bias = new Array<number>(K);
  for (let k = 0; k < K; k++) {
    classes[perm[k]] = json.classes[k];
    bias[perm[k]] = json.bias[k];
    for (let j = 0; j < D; j++) weights[perm[k] * D + j] = json.weights[k * D + j];
  }
  return LinearClassifier.fromJSON(JSON.parse(JSON.stringify({ ...json, classes, weights, bias })));
}

describe('evaluateOnCache', () => {
  const work = tmpDir('evaluate');
  const cacheDir = path.join(work, 'cache');
  let clf: LinearClassifier;

  beforeAll(async () => {
    const root = path.join(work, 'data');
    for (const cls of CLASSES) {
      fs.mkdirSync(path.join(root, cls), { recursive: true });
      for (const p of photos('train', cls, 8)) fs.copyFileSync(p, path.join(root, cls, path.basename(p)));
    }
    const backbone = await openBackbone(await prepareBackbone({ model: writeTinyBackbone(work) }), {
      device: 'cpu',
      threads: 1,
    });
    try {
      await extractDataset(await scanDataset(root), backbone, { cacheDir, workers: 0 });
    } finally {
      await backbone.close();
    }
    ({ classifier: clf } = await fitFromCache(cacheDir, { solver: 'softmax', C: 100, scale: 'standard' }));
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  test('accuracy and the confusion matrix equal the ones computed here from the rows and the scores', () => {
    const data = loadSplit(cacheDir);
    expect(data.classes).toEqual(CLASSES);
    expect(clf.classes).toEqual(CLASSES);
    const K = CLASSES.length;
    const scores = clf.decisionFunction(data.X, data.dim);
    const confusion = new Int32Array(K * K);
    for (let i = 0; i < data.y.length; i++) {
      let best = 0;
      for (let k = 1; k < K; k++) if (scores[i * K + k] > scores[i * K + best]) best = k;
      confusion[data.y[i] * K + best]++;
    }
    const correct = confusion[0] + confusion[K + 1] + confusion[2 * K + 2];
    const result = evaluateOnCache(clf, cacheDir);
    expect(result.split).toBe('all');
    expect(result.metrics.n).toBe(24);
    expect(result.metrics.accuracy).toBe(correct / 24);
    expect(Array.from(result.metrics.confusion)).toEqual(Array.from(confusion));
    expect(result.metrics.accuracy).toBeGreaterThan(0.6); // far from chance (1/3): a mix-up of ids shows
  });

  test.each([[[1, 2, 0]], [[2, 1, 0]]])(
    'a classifier with its classes in another order (%j) scores the same, class by class',
    (perm) => {
      const plain = evaluateOnCache(clf, cacheDir);
      const other = permuted(clf, perm);
      expect(other.classes).not.toEqual(clf.classes);
      const result = evaluateOnCache(other, cacheDir);
      expect(result.metrics.accuracy).toBe(plain.metrics.accuracy);
      expect(result.paths).toEqual(plain.paths);
      // The same truth and the same predictions, as names.
      const names = (ids: Int32Array, classes: readonly string[]) => Array.from(ids, (k) => classes[k]);
      expect(names(result.yTrue, other.classes)).toEqual(names(plain.yTrue, clf.classes));
      expect(names(result.yPred, other.classes)).toEqual(names(plain.yPred, clf.classes));
      const byName = (m: typeof plain.metrics) => Object.fromEntries(m.perClass.map((c) => [c.label, c]));
      expect(byName(result.metrics)).toEqual(byName(plain.metrics));
    },
  );
});
