import {
  accuracy,
  classificationMetrics,
  confusionMatrix,
  formatMetricsTable,
  metricsToJson,
  topKAccuracy,
} from '../../src/report/metrics';
import { UsageError } from '../../src/util/errors';

describe('classification metrics (values worked out by hand, as scikit-learn defines them)', () => {
  const yTrue = Int32Array.of(0, 0, 1, 1, 2, 2, 2);
  const yPred = Int32Array.of(0, 1, 1, 1, 2, 0, 2);
  const classes = ['cat', 'dog', 'fruit'];

  test('confusion matrix: rows are true classes', () => {
    expect(Array.from(confusionMatrix(yTrue, yPred, 3))).toEqual([1, 1, 0, 0, 2, 0, 1, 0, 2]);
  });

  test('per-class, macro and weighted precision/recall/F1', () => {
    const m = classificationMetrics(yTrue, yPred, classes);
    expect(m.accuracy).toBeCloseTo(5 / 7, 12);
    const [cat, dog, fruit] = m.perClass;
    expect([cat.precision, cat.recall, cat.f1, cat.support]).toEqual([0.5, 0.5, 0.5, 2]);
    expect(dog.precision).toBeCloseTo(2 / 3, 12);
    expect(dog.recall).toBe(1);
    expect(dog.f1).toBeCloseTo(0.8, 12);
    expect(fruit.precision).toBe(1);
    expect(fruit.recall).toBeCloseTo(2 / 3, 12);
    expect(m.macro.precision).toBeCloseTo((0.5 + 2 / 3 + 1) / 3, 12);
    expect(m.macro.f1).toBeCloseTo(0.7, 12);
    expect(m.weighted.precision).toBeCloseTo((2 * 0.5 + 2 * (2 / 3) + 3 * 1) / 7, 12);
    expect(m.weighted.recall).toBeCloseTo(5 / 7, 12);
    expect(m.weighted.f1).toBeCloseTo(5 / 7, 12);
  });

  test('a class never predicted has precision 0, not NaN', () => {
    const m = classificationMetrics(Int32Array.of(0, 1), Int32Array.of(0, 0), ['a', 'b']);
    expect(m.perClass[1]).toEqual({ label: 'b', precision: 0, recall: 0, f1: 0, support: 1 });
  });

  test('macro averages skip classes absent from the split (neither true nor predicted), as scikit-learn does', () => {
    const m = classificationMetrics(Int32Array.of(0, 0, 1), Int32Array.of(0, 0, 1), ['a', 'b', 'c']);
    expect(m.perClass[2]).toEqual({ label: 'c', precision: 0, recall: 0, f1: 0, support: 0 });
    expect(m.macro.precision).toBe(1);
    expect(m.macro.recall).toBe(1);
    expect(m.macro.f1).toBe(1);
    expect(m.weighted.f1).toBe(1);
    expect(m.accuracy).toBe(1);
  });

  test('top-k accuracy from scores; ties do not count in the true class’s favour', () => {
    const y = Int32Array.of(0, 1, 2);
    const scores = Float32Array.of(
      0.9,
      0.05,
      0.05, // rank 1
      0.5,
      0.3,
      0.2, // rank 2
      0.4,
      0.4,
      0.2, // rank 3
    );
    expect(topKAccuracy(y, scores, 3, 1)).toBeCloseTo(1 / 3, 12);
    expect(topKAccuracy(y, scores, 3, 2)).toBeCloseTo(2 / 3, 12);
    expect(topKAccuracy(y, scores, 3, 3)).toBe(1);
    expect(topKAccuracy(Int32Array.of(1), Float32Array.of(0.5, 0.5), 2, 1)).toBe(0);
    expect(() => topKAccuracy(y, scores, 3, 4)).toThrow(UsageError);
    const m = classificationMetrics(y, Int32Array.of(0, 0, 0), classes, { scores, topK: [1, 2] });
    expect(m.topK).toEqual({ '1': 1 / 3, '2': 2 / 3 });
  });

  test('plain-text table and JSON form', () => {
    const m = classificationMetrics(yTrue, yPred, classes);
    const text = formatMetricsTable(m);
    expect(text).toContain('accuracy 71.43 % (5/7)');
    expect(text).toMatch(/fruit\s+100\.00\s+66\.67\s+80\.00\s+3/);
    expect(text).toMatch(/true \\ pred\s+cat\s+dog\s+fruit/);
    const json = JSON.parse(JSON.stringify(metricsToJson(m)));
    expect(json.confusion).toEqual([
      [1, 1, 0],
      [0, 2, 0],
      [1, 0, 2],
    ]);
    expect(accuracy(yTrue, yPred)).toBeCloseTo(5 / 7, 12);
  });

  test('door checks name the bad value', () => {
    expect(() => confusionMatrix(Int32Array.of(0, 3), Int32Array.of(0, 1), 3)).toThrow(
      new UsageError('Expected yTrue[1] to be a class id between 0 and 2 but received 3'),
    );
  });
});
