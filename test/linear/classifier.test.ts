import * as fs from 'fs';
import * as path from 'path';
import { LinearClassifier } from '../../src/linear/classifier';
import { toEmbeddings } from '../../src/util/embeddings';
import { loadClassifier, saveClassifier } from '../../src/linear/io';
import { ConvfeatError, UsageError } from '../../src/util/errors';
import { tmpDir } from '../support/data';
import { accuracyOf, blobs } from './helpers';

describe('LinearClassifier', () => {
  const train = blobs(240, 12, 4, 31, 1.0, 2);
  const val = blobs(120, 12, 4, 32, 1.0, 2);

  test.each(['svm', 'softmax', 'ml-svm'] as const)(
    '%s: JSON round trip gives identical scores and predictions',
    async (solver) => {
      const clf = await new LinearClassifier({ solver, C: 1, scale: 'standard', threads: 1 }).fit(
        toEmbeddings(train.X, 12),
        train.y,
        {
          classes: ['a', 'b', 'c', 'd'],
          val: { X: toEmbeddings(val.X, 12), y: val.y },
          backbone: { fingerprint: 'f'.repeat(64), model: 'resnet50' },
        },
      );
      const json = JSON.parse(JSON.stringify(clf.toJSON()));
      expect(json.format).toBe('convfeat-classifier');
      const back = LinearClassifier.fromJSON(json);
      expect(Array.from(back.decisionFunction(val.X))).toEqual(Array.from(clf.decisionFunction(val.X)));
      expect(Array.from(back.predictProba(val.X))).toEqual(Array.from(clf.predictProba(val.X)));
      expect(back.classes).toEqual(['a', 'b', 'c', 'd']);
      expect(back.backbone.model).toBe('resnet50');
      expect(accuracyOf(back.predict(val.X), val.y)).toBeGreaterThan(0.9);
      expect(clf.temperature).not.toBe(1); // calibrated on val, softmax included
    },
  );

  test('C auto: chosen on val when given, else by stratified CV; ties go to the lower log-loss; early stop', async () => {
    const grid = [1e-3, 0.01, 0.1, 1, 10];
    const onVal = await new LinearClassifier({ C: 'auto', cGrid: grid, threads: 1 }).fit(
      toEmbeddings(train.X, 12),
      train.y,
      {
        val: { X: toEmbeddings(val.X, 12), y: val.y },
      },
    );
    expect(onVal.cSearch?.method).toBe('val');
    const tried = onVal.cSearch!.table.map((r) => r.C);
    expect(tried).toEqual(grid.slice(0, tried.length)); // the walk goes up the grid, maybe stopping early
    const best = Math.max(...onVal.cSearch!.table.map((r) => r.score));
    const top = onVal.cSearch!.table.filter((r) => r.score === best);
    expect(onVal.C).toBe(top.reduce((a, r) => (r.logLoss! < a.logLoss! ? r : a)).C);
    // Far-apart blobs: every C scores 100 % in every fold, so the tie goes to the lowest out-of-fold log-loss.
    const easy = blobs(90, 12, 3, 5, 0.05, 2);
    const cv = await new LinearClassifier({ C: 'auto', cGrid: grid, folds: 3, threads: 1 }).fit(
      toEmbeddings(easy.X, 12),
      easy.y,
      {},
    );
    expect(cv.cSearch?.method).toBe('cv');
    expect(cv.cSearch?.folds).toBe(3);
    const table = cv.cSearch!.table;
    expect(table.every((r) => r.score === 1)).toBe(true);
    const lowest = Math.min(...table.map((r) => r.logLoss!));
    expect(table.find((r) => r.C === cv.C)!.logLoss).toBe(lowest);
    expect(cv.cSearch!.reason).toMatch(
      /^\d+ values of C tie at 100\.00 % cross-validation accuracy; C = .* lowest cross-validation log-loss/,
    );
    // ...and after C_PATIENCE (3) values without improvement the walk stops.
    const bestAt = table.findIndex((r) => r.C === cv.C);
    expect(table.length).toBe(Math.min(grid.length, bestAt + 4));
    // The default grid is used without cGrid, and the history is absent for the SVM.
    const auto = await new LinearClassifier({ scale: 'l2', threads: 1 }).fit(toEmbeddings(train.X, 12), train.y, {
      val: { X: toEmbeddings(val.X, 12), y: val.y },
    });
    expect(auto.cSearch!.table.length).toBeGreaterThanOrEqual(4);
    expect(auto.cSearch!.table[0].C).toBe(2 ** -6); // l2 rows: the default svm grid starts at 2^-6
    expect(auto.history).toBeNull();
  });

  test('balanced class weights move the boundary toward the majority class', async () => {
    // 1-D, overlapping: 200 negatives around 0, 20 positives around 1.
    const n = 220;
    const X = new Float32Array(n);
    const y = new Int32Array(n);
    const g = blobs(n, 1, 1, 3, 0.6, 0).X;
    for (let i = 0; i < n; i++) {
      y[i] = i < 200 ? 0 : 1;
      X[i] = (y[i] ? 1 : 0) + g[i];
    }
    const fit = (classWeight: 'none' | 'balanced') =>
      new LinearClassifier({ C: 1, scale: 'none', classWeight, threads: 1 }).fit(toEmbeddings(X, 1), y);
    const plain = await fit('none');
    const balanced = await fit('balanced');
    const positives = (p: Int32Array) => p.reduce((s, v) => s + v, 0);
    expect(positives(balanced.predict(X))).toBeGreaterThan(positives(plain.predict(X)) + 10);
    expect(balanced.toJSON().params.classWeight).toBe('balanced');
  });

  test('bad input: NaN row named, one class, dimension mismatch, unknown solver, not our file', async () => {
    const X = Float32Array.from(train.X);
    X[5 * 12 + 3] = NaN;
    await expect(new LinearClassifier({ C: 1 }).fit(toEmbeddings(X, 12), train.y)).rejects.toThrow(
      new UsageError(
        'Expected X to contain only finite numbers but received NaN at row 5 (column 3); re-extract that embedding.',
      ),
    );
    await expect(
      new LinearClassifier({ C: 1 }).fit(toEmbeddings(train.X, 12), new Int32Array(240), { classes: ['cat', 'dog'] }),
    ).rejects.toThrow(
      new ConvfeatError(
        'The training data has only one class ("cat"); a classifier needs embeddings of at least two classes.',
      ),
    );
    const clf = await new LinearClassifier({ C: 1, threads: 1 }).fit(toEmbeddings(train.X, 12), train.y);
    expect(() => clf.predict(new Float32Array(24), 8)).toThrow(
      new ConvfeatError(
        'The classifier expects 12-d embeddings but received 8-d ones; extract with the backbone it was trained on.',
      ),
    );
    expect(() => clf.predict(new Float32Array(10))).toThrow(ConvfeatError);
    expect(() => new LinearClassifier({ solver: 'lasso' as never })).toThrow(
      new UsageError('Expected solver to be one of "svm", "softmax", "ml-svm" but received "lasso"'),
    );
    expect(() => LinearClassifier.fromJSON({ format: 'sklearn' }, 'model.json')).toThrow(
      new ConvfeatError('model.json is not a convfeat classifier file; pass a file written by convfeat fit-linear.'),
    );
    const broken = { ...clf.toJSON(), weights: [1, 2] };
    expect(() => LinearClassifier.fromJSON(broken, 'clf.json')).toThrow(
      /clf.json is a damaged convfeat classifier file/,
    );
    const known = await clf.clone().fit(toEmbeddings(train.X, 12), train.y, {
      backbone: { fingerprint: 'a'.repeat(64), model: 'resnet50' },
    });
    expect(() => known.assertBackbone('b'.repeat(64), 'resnet18')).toThrow(/trained on embeddings of resnet50/);
    expect(() => known.assertBackbone('a'.repeat(64))).not.toThrow();
  });

  test('files: atomic save, load, and a sentence for a file that is not JSON', async () => {
    const dir = tmpDir('linear');
    const clf = await new LinearClassifier({ solver: 'softmax', C: 1 }).fit(toEmbeddings(train.X, 12), train.y);
    const file = path.join(dir, 'clf.json');
    saveClassifier(file, clf);
    expect(Array.from(loadClassifier(file).predict(val.X))).toEqual(Array.from(clf.predict(val.X)));
    fs.writeFileSync(path.join(dir, 'junk.json'), 'not json');
    expect(() => loadClassifier(path.join(dir, 'junk.json'))).toThrow(/junk.json is not a convfeat classifier file/);
    expect(fs.readdirSync(dir).sort()).toEqual(['clf.json', 'junk.json']);
  });
});
