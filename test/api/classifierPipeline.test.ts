/**
 * classifierPipeline(): a classifier file as one callable. On the real ResNet50 and real photos it gives what
 * `convfeat predict` writes for the same photos (labels, probabilities, top-k order), scores a folder through a cache
 * like the CLI, and refuses a classifier whose backbone fingerprint is not the one on hand with predict's sentence.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { classifierPipeline, featureExtractor, fitFromCache, saveClassifier, UsageError } from '../../src';
import { photos, REPO_ROOT, tmpDir } from '../support/data';
import { realResnet50, STORE_DIR } from '../support/model';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const CLASSES = ['airplane', 'cat', 'flower'];
const work = tmpDir('pipeline');
const clfFile = path.join(work, 'clf.json');
/** Photos the classifier never saw, in the order the CLI lists a folder (sorted by name). */
const unseen = path.join(work, 'unseen');

beforeAll(async () => {
  await realResnet50();
  const train = path.join(work, 'train');
  for (const cls of CLASSES) {
    fs.mkdirSync(path.join(train, cls), { recursive: true });
    for (const p of photos('train', cls, 6)) fs.copyFileSync(p, path.join(train, cls, path.basename(p)));
  }
  fs.mkdirSync(unseen);
  for (const cls of [...CLASSES, 'dog'])
    for (const p of photos('test', cls, 1)) fs.copyFileSync(p, path.join(unseen, `${cls}-${path.basename(p)}`));
  const cache = path.join(work, 'cache');
  const fx = await featureExtractor('resnet50', { storeDir: STORE_DIR, device: 'cpu' });
  try {
    await fx.extract(train, { cache });
  } finally {
    await fx.close();
  }
  saveClassifier(clfFile, (await fitFromCache(cache)).classifier);
});

test('clf(images) gives the labels and probabilities convfeat predict writes for the same photos', async () => {
  const out = path.join(work, 'preds.jsonl');
  const cli = spawnSync(
    process.execPath,
    [
      CLI,
      'predict',
      '--classifier',
      clfFile,
      '--data',
      unseen,
      '--out',
      out,
      '--top-k',
      '2',
      '--device',
      'cpu',
      '--quiet',
    ],
    { encoding: 'utf8', env: { ...process.env, CONVFEAT_MODEL_DIR: STORE_DIR } },
  );
  expect(cli.stderr).toBe('');
  expect(cli.status).toBe(0);
  const expected = fs
    .readFileSync(out, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { path: string; top: Array<{ label: string; score: number }> });
  expect(expected).toHaveLength(4);

  await using clf = await classifierPipeline(clfFile, { storeDir: STORE_DIR, device: 'cpu', topK: 2 });
  expect(clf.classes).toEqual(CLASSES);
  const inputs = expected.map((e) => e.path);
  const got = await clf(inputs);
  expect(got.map((p) => p.path)).toEqual(inputs);
  expect(got.map((p) => p.index)).toEqual([0, 1, 2, 3]);
  for (let i = 0; i < got.length; i++) {
    expect(got[i]!.top).toEqual(expected[i]!.top); // same labels, same floats, same order
    expect(got[i]!.label).toBe(expected[i]!.top[0]!.label);
    expect(got[i]!.score).toBe(expected[i]!.top[0]!.score);
  }
  // The three seen classes are recognised on photos the classifier never saw.
  for (const p of got) {
    const cls = path.basename(p.path!).split('-')[0]!;
    if (CLASSES.includes(cls)) expect(p.label).toBe(cls);
  }

  // Bytes in, a per-call top-k; and a folder scored through a cache as the CLI does.
  const [fromBytes] = await clf([fs.readFileSync(inputs[1]!)], { topK: 3 });
  expect(fromBytes!.path).toBeUndefined();
  expect(fromBytes!.top.map((t) => t.label).slice(0, 2)).toEqual(expected[1]!.top.map((t) => t.label));
  expect(fromBytes!.top).toHaveLength(3);
  const { predictions, failures, summary } = await clf.predictDataset(unseen, { cache: path.join(work, 'pcache') });
  expect(failures).toEqual([]);
  expect(summary.predicted).toBe(4);
  expect(predictions.map((p) => p.top)).toEqual(expected.map((e) => e.top));
  await expect(clf(inputs, { topK: 4 })).rejects.toThrow(
    'Expected topK to be an integer between 1 and 3 but received 4',
  );
});

test('a classifier trained on another backbone is refused with one sentence', async () => {
  const json = JSON.parse(fs.readFileSync(clfFile, 'utf8')) as { backbone: { fingerprint: string } };
  json.backbone.fingerprint = '0123456789abcdef';
  const other = path.join(work, 'other.json');
  fs.writeFileSync(other, JSON.stringify(json));
  await expect(classifierPipeline(other, { device: 'cpu' })).rejects.toThrow(
    /is not the backbone the classifier was trained on \(resnet50, 0123456789abcdef\)/,
  );
  await expect(classifierPipeline(clfFile, { topK: 0 })).rejects.toThrow(UsageError);
  await expect(classifierPipeline(path.join(work, 'missing.json'))).rejects.toThrow(
    `Cannot read the classifier file ${path.join(work, 'missing.json')}; check the path.`,
  );
});
