/**
 * Damaged classifier files (issue 13, item 9): every number and name predictions depend on is checked at load, and a
 * damaged file is refused with one sentence naming the field, never used to give NaN or constant predictions.
 * The table mirrors the attacker: 39+ kinds of damage, each written to disk and read with loadClassifier.
 */
import * as fs from 'fs';
import * as path from 'path';
import { LinearClassifier } from '../../src/linear/classifier';
import { toEmbeddings } from '../../src/util/embeddings';
import type { ClassifierJson } from '../../src/linear/format';
import { loadClassifier, saveClassifier } from '../../src/linear/io';
import { ConvfeatError } from '../../src/util/errors';
import { tmpDir } from '../support/data';
import { blobs } from './helpers';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Damage {
  name: string;
  /** Changes the parsed file; returns nothing. */
  edit?: (j: Json) => void;
  /** Changes the file's text (for numbers JSON.stringify cannot write, like 1e400). */
  text?: (t: string) => string;
  /** What the error must name. */
  names: RegExp;
  solver?: 'svm' | 'softmax';
}

const SENTINEL = 424242.5;

const damages: Damage[] = [
  { name: 'not an object', text: () => '[1, 2, 3]', names: /not a convfeat classifier file/ },
  { name: 'wrong format tag', edit: (j) => (j.format = 'sklearn'), names: /not a convfeat classifier file/ },
  { name: 'version a string', edit: (j) => (j.version = '1'), names: /version/ },
  { name: 'version 0', edit: (j) => (j.version = 0), names: /version/ },
  { name: 'version 1.5', edit: (j) => (j.version = 1.5), names: /version/ },
  { name: 'version from the future', edit: (j) => (j.version = 99), names: /version 99.*upgrade/ },
  { name: 'unknown solver', edit: (j) => (j.solver = 'rbf'), names: /solver "rbf"/ },
  { name: 'classes missing', edit: (j) => delete j.classes, names: /classes must be a list/ },
  { name: 'one class', edit: (j) => (j.classes = ['a']), names: /classes must be a list of at least 2/ },
  { name: 'class name a number', edit: (j) => (j.classes[1] = 7), names: /classes\[1\] is 7/ },
  { name: 'empty class name', edit: (j) => (j.classes[2] = ' '), names: /classes\[2\]/ },
  {
    name: 'duplicate class names',
    edit: (j) => (j.classes[3] = j.classes[0]),
    names: /classes\[3\] repeats classes\[0\]/,
  },
  { name: 'dim a string', edit: (j) => (j.dim = '12'), names: /dim is "12"/ },
  { name: 'dim 0', edit: (j) => (j.dim = 0), names: /dim is 0/ },
  { name: 'dim fractional', edit: (j) => (j.dim = 12.5), names: /dim is 12.5/ },
  { name: 'weights too short', edit: (j) => j.weights.pop(), names: /weights must hold 48 numbers but holds 47/ },
  { name: 'weights too long', edit: (j) => j.weights.push(0), names: /weights must hold 48/ },
  { name: 'weights not a list', edit: (j) => (j.weights = 'zeros'), names: /weights must be a list/ },
  { name: 'weight a string', edit: (j) => (j.weights[5] = '0.1'), names: /weights\[5\] is "0.1"/ },
  { name: 'weight null (a NaN written by JSON)', edit: (j) => (j.weights[6] = null), names: /weights\[6\] is null/ },
  { name: 'weight 1e308', edit: (j) => (j.weights[7] = 1e308), names: /weights\[7\] is 1e\+308, outside/ },
  {
    name: 'weight 1e400 (infinite)',
    edit: (j) => (j.weights[8] = SENTINEL),
    text: (t) => t.replace(String(SENTINEL), '1e400'),
    names: /weights\[8\] is Infinity/,
  },
  { name: 'bias too short', edit: (j) => j.bias.pop(), names: /bias must hold 4 numbers/ },
  { name: 'bias non-numeric', edit: (j) => (j.bias[1] = true), names: /bias\[1\] is true/ },
  { name: 'bias -1e300', edit: (j) => (j.bias[2] = -1e300), names: /bias\[2\] is -1e\+300/ },
  { name: 'scaler missing', edit: (j) => delete j.scaler, names: /scaler is missing/ },
  { name: 'scaler kind unknown', edit: (j) => (j.scaler.kind = 'minmax'), names: /scaler.kind is "minmax"/ },
  { name: 'scaler dim mismatch', edit: (j) => (j.scaler.dim = 11), names: /scaler.dim is 11/ },
  { name: 'scaler mean missing', edit: (j) => delete j.scaler.mean, names: /scaler.mean must be a list/ },
  { name: 'scaler mean non-numeric', edit: (j) => (j.scaler.mean[0] = 'x'), names: /scaler.mean\[0\] is "x"/ },
  { name: 'scaler mean 1e308', edit: (j) => (j.scaler.mean[1] = 1e308), names: /scaler.mean\[1\]/ },
  { name: 'scaler mean wrong length', edit: (j) => j.scaler.mean.push(1), names: /scaler.mean must hold 12/ },
  { name: 'scaler std 0', edit: (j) => (j.scaler.std[2] = 0), names: /scaler.std\[2\] is 0, outside/ },
  { name: 'scaler std negative', edit: (j) => (j.scaler.std[3] = -1), names: /scaler.std\[3\] is -1/ },
  { name: 'scaler std 1e-320', edit: (j) => (j.scaler.std[4] = 1e-320), names: /scaler.std\[4\]/ },
  { name: 'scaler std wrong length', edit: (j) => j.scaler.std.pop(), names: /scaler.std must hold 12/ },
  { name: 'C negative', edit: (j) => (j.C = -1), names: /C is -1/ },
  { name: 'params missing', edit: (j) => delete j.params, names: /params is missing/ },
  { name: 'params.scale unknown', edit: (j) => (j.params.scale = 'zscore'), names: /params.scale/ },
  { name: 'params.maxIter 0', edit: (j) => (j.params.maxIter = 0), names: /params.maxIter/ },
  { name: 'params.cGrid with a negative C', edit: (j) => (j.params.cGrid = [1, -2]), names: /params.cGrid/ },
  { name: 'calibration missing', edit: (j) => delete j.calibration, names: /calibration is missing/ },
  {
    name: 'calibration method unknown',
    edit: (j) => (j.calibration.method = 'platt'),
    names: /calibration.method is "platt"/,
  },
  { name: 'temperature 0', edit: (j) => (j.calibration.temperature = 0), names: /calibration.temperature is 0/ },
  {
    name: 'temperature negative',
    edit: (j) => (j.calibration.temperature = -2),
    names: /calibration.temperature is -2/,
  },
  {
    name: 'temperature 1e400',
    edit: (j) => (j.calibration.temperature = SENTINEL),
    text: (t) => t.replace(String(SENTINEL), '1e400'),
    names: /calibration.temperature is Infinity/,
  },
  {
    name: 'temperature 1e-320',
    edit: (j) => (j.calibration.temperature = 1e-320),
    names: /calibration.temperature is 1e-320/,
  },
  {
    name: 'temperature a string',
    edit: (j) => (j.calibration.temperature = '1'),
    names: /calibration.temperature is "1"/,
  },
  {
    name: 'calibration fittedOn unknown',
    edit: (j) => (j.calibration.fittedOn = 'test'),
    names: /calibration.fittedOn/,
  },
  {
    name: 'softmax with an unknown calibration method',
    solver: 'softmax',
    edit: (j) => (j.calibration = { method: 'isotonic' }),
    names: /calibration.method is "isotonic", not "softmax" or "temperature" for a softmax/,
  },
  { name: 'converged not boolean', edit: (j) => (j.converged = 'yes'), names: /converged is "yes"/ },
  { name: 'backbone missing', edit: (j) => delete j.backbone, names: /backbone is missing/ },
  { name: 'backbone fingerprint a number', edit: (j) => (j.backbone.fingerprint = 5), names: /backbone.fingerprint/ },
  {
    name: 'preprocessFingerprint a list',
    edit: (j) => (j.preprocessFingerprint = [1]),
    names: /preprocessFingerprint is \[1\]/,
  },
  { name: 'history not a list', edit: (j) => (j.history = 3), names: /history is 3/ },
];

describe('damaged classifier files are refused at load, naming the field', () => {
  const dir = tmpDir('damaged');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const train = blobs(120, 12, 4, 41, 1.0, 2);
  const classes = ['cat', 'dog', 'fox', 'owl'];
  const texts: Record<string, string> = {};

  beforeAll(async () => {
    for (const solver of ['svm', 'softmax'] as const) {
      const clf = await new LinearClassifier({ solver, C: 1, scale: 'standard', threads: 1 }).fit(
        toEmbeddings(train.X, 12),
        train.y,
        {
          classes,
        },
      );
      const file = path.join(dir, `${solver}.json`);
      saveClassifier(file, clf);
      texts[solver] = fs.readFileSync(file, 'utf8');
    }
  });

  test('the table has at least 39 kinds of damage', () => {
    expect(damages.length).toBeGreaterThanOrEqual(39);
  });

  test('the undamaged files load and predict finite probabilities', () => {
    for (const solver of ['svm', 'softmax'] as const) {
      const file = path.join(dir, `${solver}.json`);
      const clf = loadClassifier(file);
      const p = clf.predictProba(train.X, 12);
      expect(p.every((v) => Number.isFinite(v))).toBe(true);
    }
  });

  test.each(damages.map((d) => [d.name, d] as const))('%s', (_name, damage) => {
    const json = JSON.parse(texts[damage.solver ?? 'svm']!) as Json;
    damage.edit?.(json);
    let text = JSON.stringify(json);
    if (damage.text) text = damage.text(text);
    const file = path.join(dir, 'damaged.json');
    fs.writeFileSync(file, text);
    let error: unknown;
    try {
      loadClassifier(file);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConvfeatError);
    const message = (error as Error).message;
    expect(message).toMatch(damage.names);
    expect(message).toContain(file);
    expect(message.split('\n')).toHaveLength(1);
  });
});

describe('non-finite outputs are refused', () => {
  test('embeddings that overflow the scores give one sentence naming the row, not NaN probabilities', async () => {
    const train = blobs(80, 6, 2, 5, 1.0, 2);
    const clf = await new LinearClassifier({ solver: 'svm', C: 1, scale: 'none', threads: 1 }).fit(
      toEmbeddings(train.X, 6),
      train.y,
      {},
    );
    const json = clf.toJSON() as ClassifierJson;
    json.weights = json.weights.map((w) => (w >= 0 ? 1e12 : -1e12)); // at the accepted limit, valid on load
    const big = LinearClassifier.fromJSON(json);
    const X = new Float32Array(12).fill(1);
    X[7] = 3e38; // row 1: a finite float32 value whose product with the weights overflows
    expect(() => big.predictProba(X, 6)).toThrow(/non-finite value .* row 1\b/);
    expect(() => big.predict(X, 6)).toThrow(ConvfeatError);
    expect(big.predictProba(X.subarray(0, 6), 6).every((v) => Number.isFinite(v))).toBe(true);
  });
});
