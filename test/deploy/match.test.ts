/**
 * deploy/match: a classifier meets the backbone it was trained on, or a sentence. Run with a tiny ONNX backbone and
 * real photos: the right file opens once (one prepare, one session for a whole predict run), another network, an
 * unknown model without a file, and an embedding of another size are refused before any image is read; the export
 * door checks its output path and writes the fused model.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as load from '../../src/backbone/load';
import * as open from '../../src/backbone/runtime/open';
import * as session from '../../src/backbone/runtime/session';
import { scanDataset } from '../../src/dataset';
import { backboneForClassifier, openBackboneForClassifier } from '../../src/deploy/match';
import { predictDataset, type Prediction } from '../../src/deploy/predict';
import { exportClassifier } from '../../src/deploy/exportClassifier';
import { LinearClassifier, toEmbeddings } from '../../src/linear';
import { preprocessFingerprint } from '../../src/preprocess/spec';
import { ConvfeatError, UsageError } from '../../src/util/errors';
import { photos, tmpDir } from '../support/data';
import { seededRandom } from '../support/graphs';
import { TINY_DIM, tinyBackboneBytes, writeTinyBackbone } from '../support/tinyBackbone';

const CLASSES = ['airplane', 'car', 'cat'];
let work: string;
let model: string;
let other: string;

beforeAll(() => {
  work = tmpDir('match');
  model = writeTinyBackbone(work);
  other = path.join(work, 'other.onnx');
  fs.writeFileSync(other, tinyBackboneBytes(4));
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
afterEach(() => jest.restoreAllMocks());

/** A fitted classifier that records `recorded` as its backbone (what fit-linear on its cache would write). */
async function classifierFor(
  recorded: { model: string | null; fingerprint: string | null },
  dim = TINY_DIM,
  preprocess: string | null = null,
): Promise<LinearClassifier> {
  const rand = seededRandom(3);
  const X = Float32Array.from({ length: 30 * dim }, () => rand());
  const y = Int32Array.from({ length: 30 }, (_, i) => i % CLASSES.length);
  const fitted = await new LinearClassifier({ solver: 'softmax', scale: 'none', C: 1, threads: 1 }).fit(
    toEmbeddings(X, dim),
    y,
    { classes: CLASSES },
  );
  return LinearClassifier.fromJSON({ ...fitted.toJSON(), backbone: recorded, preprocessFingerprint: preprocess });
}

test('the backbone it was trained on opens once for a whole predict run, with the EXIF mode it recorded', async () => {
  const prepared = await load.prepareBackbone({ model, storeDir: work });
  const clf = await classifierFor(
    { model: 'tiny', fingerprint: prepared.fingerprint },
    TINY_DIM,
    preprocessFingerprint({ spec: prepared.spec, exif: 'ignore' }),
  );
  const matched = await backboneForClassifier(clf, { model });
  expect(matched.exif).toBe('ignore');
  expect(matched.prepared.fingerprint).toBe(prepared.fingerprint);

  const data = path.join(work, 'data');
  for (const c of CLASSES) {
    fs.mkdirSync(path.join(data, c), { recursive: true });
    for (const p of photos('val', c, 2)) fs.copyFileSync(p, path.join(data, c, path.basename(p)));
  }
  const prepares = jest.spyOn(load, 'prepareBackbone');
  const opens = jest.spyOn(open, 'openBackbone');
  const sessions = jest.spyOn(session, 'createSession');
  const rows: Prediction[] = [];
  const summary = await predictDataset(clf, await scanDataset(data), {
    model,
    device: 'cpu',
    workers: 0,
    topK: 2,
    onPrediction: (p) => rows.push(p),
  });
  expect(summary.predicted).toBe(6);
  expect(rows.map((r) => r.top.length)).toEqual([2, 2, 2, 2, 2, 2]);
  expect(prepares).toHaveBeenCalledTimes(1);
  expect(opens).toHaveBeenCalledTimes(1);
  expect(sessions).toHaveBeenCalledTimes(1);
});

test('another network, an unknown model without a file, and another embedding size are refused with a sentence', async () => {
  const prepared = await load.prepareBackbone({ model, storeDir: work });
  const clf = await classifierFor({ model: 'tiny', fingerprint: prepared.fingerprint });
  await expect(backboneForClassifier(clf, { model: other })).rejects.toThrow(
    new RegExp(
      `^model ${other.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} cut at .* is not the backbone the classifier was trained on \\(tiny, ${prepared.fingerprint}\\)`,
    ),
  );
  await expect(backboneForClassifier(clf, {})).rejects.toThrow(
    'The classifier was trained on embeddings of tiny, which is not a known model; pass the same ONNX file with model FILE.onnx.',
  );
  // No fingerprint recorded (an older or hand-made classifier): the size check still stops it before any image.
  const wide = await classifierFor({ model: 'tiny', fingerprint: null }, TINY_DIM + 4);
  const sessions = jest.spyOn(session, 'createSession');
  await expect(openBackboneForClassifier(wide, { model, device: 'cpu' })).rejects.toThrow(
    new ConvfeatError(
      `The classifier expects ${TINY_DIM + 4}-d embeddings but tiny cut at ${prepared.layer} gives ${TINY_DIM}-d ones; pass the backbone and layer it was trained on.`,
    ),
  );
  expect(sessions).toHaveBeenCalledTimes(0); // the graph told the size: no session was needed to refuse
});

test('exportClassifier checks its output first, then writes the fused model', async () => {
  const prepared = await load.prepareBackbone({ model, storeDir: work });
  const clf = await classifierFor({ model: 'tiny', fingerprint: prepared.fingerprint });
  const prepares = jest.spyOn(load, 'prepareBackbone');
  await expect(exportClassifier(clf, { model, out: work })).rejects.toThrow(
    new UsageError(`out ${work} is a folder; give a file name such as ${path.join(work, 'model.onnx')}.`),
  );
  await expect(exportClassifier(clf, { model, out: '' })).rejects.toThrow(
    'Expected out to be a non-empty string but received ""',
  );
  expect(prepares).toHaveBeenCalledTimes(0);
  const out = path.join(work, 'sub', 'clf.onnx');
  const r = await exportClassifier(clf, { model, out });
  expect(r).toMatchObject({ file: out, backbone: 'tiny', classes: CLASSES, inputShape: ['batch_size', 3, 224, 224] });
  expect(fs.statSync(out).size).toBe(r.bytes);
});
