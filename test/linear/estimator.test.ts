/**
 * LinearClassifier as a scikit-learn estimator (issue 10): fit-linear's defaults, getParams → constructor round trip,
 * clone (unfitted, independent), score = mean(predict == y), learned state that cannot be changed after fit (by the
 * type checker and at run time), provenance passed into fit, door errors that name the parameter, the bad value and
 * what was expected, and classifier files written before this API loading and predicting exactly as they did.
 */
import { LinearClassifier, type LinearClassifierParams } from '../../src/linear/classifier';
import { flagFor } from '../../src/commands/flags';
import type { ClassifierJson } from '../../src/linear/format';
import { toEmbeddings, type Embeddings } from '../../src/util/embeddings';
import { ConvfeatError, UsageError } from '../../src/util/errors';
import { useParamNames } from '../../src/util/params';
import oldFiles from './fixtures/classifiers-bc0ffd0.json';
import { blobs } from './helpers';

const DIM = 12;
const train = blobs(240, DIM, 4, 31, 1.0, 2);
const val = blobs(120, DIM, 4, 32, 1.0, 2);
const Xtrain = toEmbeddings(train.X, DIM);
const Xval = toEmbeddings(val.X, DIM);
const CLASSES = ['ant', 'bee', 'cow', 'dog'];

async function fitted(options: ConstructorParameters<typeof LinearClassifier>[0] = {}): Promise<LinearClassifier> {
  return new LinearClassifier({ threads: 1, ...options }).fit(Xtrain, train.y, {
    classes: CLASSES,
    val: { X: Xval, y: val.y },
  });
}

describe('LinearClassifier as an estimator', () => {
  test("defaults are convfeat fit-linear's (scale none, C auto on val or 5-fold CV, svm, seed 1)", () => {
    const expected: LinearClassifierParams = {
      solver: 'svm',
      C: 'auto',
      scale: 'none',
      classWeight: 'none',
      seed: 1,
      tol: undefined,
      maxIter: undefined,
      threads: undefined,
      folds: 5,
      cGrid: undefined,
    };
    expect(new LinearClassifier().getParams()).toEqual(expected);
  });

  test('getParams round-trips into the constructor, and is a copy', () => {
    const options = {
      solver: 'softmax' as const,
      C: 0.5,
      scale: 'standard' as const,
      classWeight: 'balanced' as const,
      seed: 9,
      tol: 1e-6,
      maxIter: 77,
      threads: 2,
      folds: 3,
      cGrid: [10, 0.1, 1],
    };
    const clf = new LinearClassifier(options);
    const params = clf.getParams();
    expect(params).toEqual({ ...options, cGrid: [0.1, 1, 10] });
    expect(new LinearClassifier(params).getParams()).toEqual(params);
    for (const p of [new LinearClassifier().getParams(), new LinearClassifier({ solver: 'ml-svm' }).getParams()])
      expect(new LinearClassifier(p).getParams()).toEqual(p);
    params.cGrid!.push(1000);
    params.seed = 4;
    expect(clf.getParams()).toEqual({ ...options, cGrid: [0.1, 1, 10] });
  });

  test('clone is unfitted, has the same params (plus overrides), and is independent of the original', async () => {
    const original = await fitted({ C: 1 });
    const twin = original.clone();
    expect(twin).not.toBe(original);
    expect(twin.fitted).toBe(false);
    expect(twin.classes).toEqual([]);
    expect(twin.getParams()).toEqual(original.getParams());
    expect(() => twin.predict(Xval)).toThrow(/not fitted yet/);
    const before = Array.from(original.decisionFunction(Xval));
    const json = JSON.stringify(original.toJSON());
    // Fitting the clone on other data (two classes, other rows) leaves the original as it was.
    const other = blobs(90, DIM, 2, 7, 0.5, 3);
    await twin.fit(toEmbeddings(other.X, DIM), other.y);
    expect(twin.classes).toEqual(['0', '1']);
    expect(Array.from(original.decisionFunction(Xval))).toEqual(before);
    expect(JSON.stringify(original.toJSON())).toBe(json);
    // An unchanged clone fitted on the same data is the same model (the fit is deterministic).
    const again = await original.clone().fit(Xtrain, train.y, { classes: CLASSES, val: { X: Xval, y: val.y } });
    expect(Array.from(again.decisionFunction(Xval))).toEqual(before);
    // Overrides change only what they name.
    const softer = original.clone({ C: 0.01, solver: 'softmax' });
    expect(softer.getParams()).toEqual({ ...original.getParams(), C: 0.01, solver: 'softmax' });
  });

  test('fit returns the estimator itself; score is mean(predict == y); fit records train and val accuracy', async () => {
    const clf = new LinearClassifier({ C: 0.01, threads: 1 });
    const returned = await clf.fit(Xtrain, train.y, { classes: CLASSES, val: { X: Xval, y: val.y } });
    expect(returned).toBe(clf);
    for (const [X, y] of [
      [Xtrain, train.y],
      [Xval, val.y],
    ] as const) {
      const pred = clf.predict(X);
      const mean = pred.reduce((s, p, i) => s + (p === y[i] ? 1 : 0), 0) / y.length;
      expect(clf.score(X, y)).toBe(mean);
    }
    // Some rows are wrong at this C, so the check above is not 1 === 1.
    expect(clf.score(Xval, val.y)).toBeGreaterThan(0.5);
    expect(clf.score(Xval, val.y)).toBeLessThan(1);
    expect(clf.metrics).toEqual({
      trainAccuracy: clf.score(Xtrain, train.y),
      valAccuracy: clf.score(Xval, val.y),
      trainSize: 240,
      valSize: 120,
      cSelection: 'fixed',
    });
    expect((await fitted()).metrics).toMatchObject({ cSelection: 'val' });
    expect(() => clf.score(Xval, val.y.subarray(1))).toThrow(
      new UsageError('Expected y.length to be 120 (one label per embedding) but received 119'),
    );
  });

  test('provenance is passed into fit, and the rest of it is what fit saw', async () => {
    const clf = await new LinearClassifier({ C: 1, threads: 1 }).fit(Xtrain, train.y, {
      classes: CLASSES,
      backbone: { fingerprint: 'a'.repeat(64), model: 'resnet50' },
      preprocessFingerprint: 'b'.repeat(64),
    });
    expect(clf.backbone).toEqual({ fingerprint: 'a'.repeat(64), model: 'resnet50' });
    expect(clf.preprocessFingerprint).toBe('b'.repeat(64));
    expect(clf.provenance!.trainingRows.count).toBe(240);
    expect(clf.provenance!.trainingRows.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(() => clf.assertBackbone('c'.repeat(64), 'vgg16')).toThrow(/trained on embeddings of resnet50/);
    const json = clf.toJSON();
    expect(json.backbone).toEqual({ fingerprint: 'a'.repeat(64), model: 'resnet50' });
    expect(json.preprocessFingerprint).toBe('b'.repeat(64));
    // Without it the classifier knows nothing of its backbone (and refuses nothing).
    const anonymous = await clf.clone().fit(Xtrain, train.y);
    expect(anonymous.backbone).toEqual({ fingerprint: null, model: null });
    expect(anonymous.provenance!.trainingRows.sha256).not.toBe(clf.provenance!.trainingRows.sha256); // other names
  });

  test('learned state cannot be changed after fit: read-only types, frozen data, typed arrays as copies', async () => {
    const clf = await fitted({ scale: 'standard' });
    const scores = Array.from(clf.decisionFunction(Xval));
    const json = JSON.stringify(clf.toJSON());
    // Each line is refused by the type checker (ts-jest fails the file if one were accepted) and at run time.
    expect(() => {
      // @ts-expect-error classes is read-only
      clf.classes.push('eel');
    }).toThrow(TypeError);
    expect(() => {
      // @ts-expect-error the backbone comes from fit, not from assignment
      clf.backbone = { fingerprint: 'x', model: 'x' };
    }).toThrow(TypeError);
    expect(() => {
      // @ts-expect-error a fitted attribute
      clf.C = 5;
    }).toThrow(TypeError);
    expect(() => {
      // @ts-expect-error the C search table is read-only
      clf.cSearch!.table[0].score = 0;
    }).toThrow(TypeError);
    expect(() => {
      // @ts-expect-error metrics are read-only
      clf.metrics!.trainAccuracy = 0;
    }).toThrow(TypeError);
    expect(() => {
      // @ts-expect-error provenance is read-only
      clf.provenance!.trainingRows.count = 1;
    }).toThrow(TypeError);
    // Typed arrays cannot be frozen: the getters hand out copies, so writing to one changes nothing.
    const w = clf.weights;
    w.fill(1e6);
    clf.bias.fill(-1e6);
    const scaler = clf.scaler;
    scaler.std!.fill(1e-3);
    expect(clf.weights[0]).not.toBe(1e6);
    expect(Array.from(clf.decisionFunction(Xval))).toEqual(scores);
    expect(JSON.stringify(clf.toJSON())).toBe(json);
    // The file's arrays are copies too.
    const out = clf.toJSON();
    out.classes.push('eel');
    out.weights[0] = 1e6;
    expect(JSON.stringify(clf.toJSON())).toBe(json);
    // A loaded classifier is as read-only as a fitted one.
    const loaded = LinearClassifier.fromJSON(JSON.parse(json));
    expect(() => (loaded.classes as string[]).push('eel')).toThrow(TypeError);
    expect(Array.from(loaded.decisionFunction(Xval))).toEqual(scores);
  });

  test('refitting replaces the state; the old values a caller kept stay as they were', async () => {
    const clf = await fitted({ C: 1 });
    const classes = clf.classes;
    const search = clf.cSearch;
    await clf.fit(toEmbeddings(train.X.subarray(0, 8 * DIM), DIM), Int32Array.of(0, 1, 0, 1, 0, 1, 0, 1));
    expect(clf.classes).toEqual(['0', '1']);
    expect(classes).toEqual(CLASSES);
    expect(search).toBeNull();
  });

  describe('door errors name the parameter, the bad value and what was expected', () => {
    const y6 = Int32Array.of(0, 1, 0, 1, 0, 1);
    const X6 = toEmbeddings(
      new Float32Array(6 * 4).map((_, i) => (i % 5) - 2),
      4,
    );
    const clf = new LinearClassifier({ C: 1, threads: 1 });

    test('Embeddings: shape, type, rows × dim', async () => {
      await expect(clf.fit({ data: new Float32Array(10), rows: 3, dim: 4 }, y6)).rejects.toThrow(
        new UsageError('Expected X.data.length to be X.rows × X.dim = 3 × 4 = 12 but received 10'),
      );
      await expect(clf.fit(new Float32Array(24) as unknown as Embeddings, y6)).rejects.toThrow(
        /^Expected X to be Embeddings \{ data, rows, dim \} \(wrap a Float32Array with toEmbeddings\(data, dim\)\)/,
      );
      await expect(clf.fit({ data: [1, 2] as unknown as Float32Array, rows: 1, dim: 2 }, y6)).rejects.toThrow(
        new UsageError('Expected X.data to be a Float32Array but received [1,2]'),
      );
      await expect(clf.fit({ data: new Float32Array(4), rows: 2, dim: 2.5 }, y6)).rejects.toThrow(
        new UsageError('Expected X.dim to be an integer between 1 and 16777216 but received 2.5'),
      );
      expect(() => toEmbeddings(new Float32Array(10), 4)).toThrow(
        new UsageError(
          'Expected data.length to be a multiple of dim (4) but received 10; the numbers are not whole 4-d embeddings.',
        ),
      );
      expect(toEmbeddings(new Float32Array(12), 4)).toEqual({ data: new Float32Array(12), rows: 3, dim: 4 });
    });

    test('labels: length, range, classes', async () => {
      await expect(clf.fit(X6, y6.subarray(1))).rejects.toThrow(
        new UsageError('Expected y.length to be 6 (one label per embedding) but received 5'),
      );
      await expect(clf.fit(X6, Int32Array.of(0, 1, 7, 1, 0, 1), { classes: ['a', 'b'] })).rejects.toThrow(
        new UsageError('Expected y[2] to be a class id between 0 and 1 but received 7'),
      );
      await expect(clf.fit(X6, Array.from(y6) as unknown as Int32Array)).rejects.toThrow(
        /^Expected y to be an Int32Array of class ids but received \[0,1,0,1,0,1\]/,
      );
      await expect(clf.fit(X6, y6, { classes: ['a', 'a'] })).rejects.toThrow(
        new UsageError('Expected classes[1] to be a name not already in classes but received "a"'),
      );
      await expect(
        clf.fit(X6, y6, { val: { X: toEmbeddings(new Float32Array(6), 3), y: Int32Array.of(0, 1) } }),
      ).rejects.toThrow(new UsageError('Expected val.X.dim to be 4 (the dim of X) but received 3'));
    });

    test('hyper-parameters: C, solver, scale, folds, seed; from code by their API names', () => {
      expect(() => new LinearClassifier({ C: 0 })).toThrow(
        new UsageError('Expected C to be a positive finite number but received 0'),
      );
      expect(() => new LinearClassifier({ C: -1 })).toThrow(
        new UsageError('Expected C to be a positive finite number but received -1'),
      );
      expect(() => new LinearClassifier({ scale: 'zscore' as never })).toThrow(
        new UsageError('Expected scale to be one of "l2", "standard", "none" but received "zscore"'),
      );
      expect(() => new LinearClassifier({ folds: 1 })).toThrow(
        new UsageError('Expected folds to be an integer between 2 and 100 but received 1'),
      );
      expect(() => new LinearClassifier({ maxIter: 0 })).toThrow(
        new UsageError('Expected maxIter to be an integer between 1 and 10000000 but received 0'),
      );
      expect(() => new LinearClassifier({ solver: 'ml-svm', classWeight: 'balanced' })).toThrow(
        new UsageError(
          'The ml-svm solver has one C for all samples and cannot use class weights; use solver svm with classWeight balanced.',
        ),
      );
    });

    test('the same checks name the CLI flags when the CLI has installed its names', () => {
      useParamNames(flagFor);
      try {
        expect(() => new LinearClassifier({ C: 0 })).toThrow(
          new UsageError('Expected --C to be a positive finite number but received 0'),
        );
        expect(() => new LinearClassifier({ maxIter: 0 })).toThrow(
          new UsageError('Expected --max-iter to be an integer between 1 and 10000000 but received 0'),
        );
        expect(() => new LinearClassifier({ solver: 'ml-svm', classWeight: 'balanced' })).toThrow(
          new UsageError(
            'The ml-svm solver has one C for all samples and cannot use class weights; use --solver svm with --class-weight balanced.',
          ),
        );
      } finally {
        useParamNames();
      }
    });

    test('predicting: not fitted, another dim', async () => {
      expect(() => new LinearClassifier().predict(X6)).toThrow(
        new ConvfeatError('The classifier is not fitted yet; call fit() or load a classifier file first.'),
      );
      const fit = await clf.fit(X6, y6);
      expect(() => fit.predict(toEmbeddings(new Float32Array(6), 3))).toThrow(
        new ConvfeatError(
          'The classifier expects 4-d embeddings but received 3-d ones; extract with the backbone it was trained on.',
        ),
      );
      // The bare Float32Array form of earlier versions still reads rows of the classifier's dim.
      expect(Array.from(fit.predict(X6.data))).toEqual(Array.from(fit.predict(X6)));
    });
  });

  describe('classifier files written before this API', () => {
    test.each(['svm', 'softmax'] as const)(
      '%s: loads, predicts exactly as it did, and saves back byte for byte',
      (solver) => {
        const old = oldFiles[solver];
        const clf = LinearClassifier.fromJSON(old.classifier);
        const probe = toEmbeddings(Float32Array.from(old.probe), clf.dim);
        expect(Array.from(clf.predictProba(probe))).toEqual(old.proba);
        expect(Array.from(clf.predict(probe))).toEqual(old.predict);
        expect(JSON.stringify(clf.toJSON())).toBe(JSON.stringify(old.classifier));
        expect(clf.backbone.model).toBe('resnet50');
        expect(clf.metrics).toEqual(old.classifier.metrics);
        // Its hyper-parameters come back as recorded (tolerances were stored resolved).
        expect(clf.getParams()).toMatchObject({ solver, C: 'auto', seed: 1, folds: 5, tol: old.classifier.params.tol });
        const json: ClassifierJson = clf.toJSON();
        expect(json.provenance?.trainingRows.count).toBe(60);
      },
    );
  });
});
