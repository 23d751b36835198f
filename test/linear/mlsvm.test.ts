import { LinearClassifier } from '../../src/linear/classifier';
import { toEmbeddings } from '../../src/util/embeddings';
import { fitMlSvm, ML_SVM_MAX_ROWS } from '../../src/linear/mlsvm';
import { ConvfeatError, UsageError } from '../../src/util/errors';
import { accuracyOf, blobs } from './helpers';

describe('ml-svm adapter', () => {
  test('agrees with our dual CD SVM on small 3-class data', async () => {
    const train = blobs(150, 6, 3, 21, 0.8, 2);
    const test = blobs(300, 6, 3, 22, 0.8, 2);
    const ours = await new LinearClassifier({ solver: 'svm', C: 1, scale: 'none', threads: 1 }).fit(
      toEmbeddings(train.X, 6),
      train.y,
      {},
    );
    const theirs = await new LinearClassifier({ solver: 'ml-svm', C: 1, scale: 'none' }).fit(
      toEmbeddings(train.X, 6),
      train.y,
      {},
    );
    const a = ours.predict(test.X);
    const b = theirs.predict(test.X);
    expect(accuracyOf(a, test.y)).toBeGreaterThan(0.95);
    expect(accuracyOf(b, test.y)).toBeGreaterThan(0.95);
    expect(accuracyOf(a, b)).toBeGreaterThanOrEqual(0.97); // fraction of identical predictions
  });

  test('a constant column neither yields NaN nor changes the answer', () => {
    const { X, y } = blobs(60, 3, 2, 5, 0.5, 2);
    const withConst = new Float32Array(60 * 4);
    for (let i = 0; i < 60; i++) {
      withConst.set(X.subarray(i * 3, i * 3 + 3), i * 4);
      withConst[i * 4 + 3] = 7;
    }
    const W = fitMlSvm(withConst, 4, y, { C: 1, classes: 2, seed: 1, tol: 1e-4, maxIter: 10000 });
    expect(W.every(Number.isFinite)).toBe(true);
    expect(W[3]).toBe(0);
  });

  test('refuses data above its size limit with a sentence, before building the kernel', async () => {
    const n = ML_SVM_MAX_ROWS + 1;
    const X = new Float32Array(n * 2).map((_, i) => i % 7);
    const y = new Int32Array(n).map((_, i) => i % 2);
    await expect(new LinearClassifier({ solver: 'ml-svm', C: 1 }).fit(toEmbeddings(X, 2), y)).rejects.toThrow(
      new ConvfeatError(
        `The ml-svm solver handles at most ${ML_SVM_MAX_ROWS} training rows (it builds an N×N kernel) but received ${n}; use --solver svm.`,
      ),
    );
  });

  test('refuses class weights (it has one C)', () => {
    expect(() => new LinearClassifier({ solver: 'ml-svm', classWeight: 'balanced' })).toThrow(UsageError);
  });
});
