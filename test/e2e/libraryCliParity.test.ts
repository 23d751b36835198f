/**
 * Issue 10: the library and the CLI give the same classifier on the same cache with default options. Before, the
 * library defaulted to l2 scaling and the CLI to none, so on the demo cache they chose different C values (1 and
 * 0.0015) and scored differently. Here `fitFromCache(cache)` and `convfeat fit-linear --cache …`, both with nothing
 * but the cache given, must agree to the last bit: same C, same weights, same probabilities; likewise `advise`.
 * A small cache of real photos embedded by the real ResNet50, so the C search has real ties and real margins.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { loadSplit } from '../../src/cache';
import type { ClassifierJson } from '../../src/linear/format';
import { fitFromCache } from '../../src/linear/fitCache';
import { loadClassifier } from '../../src/linear/io';
import { advise } from '../../src/report/advise';
import { toEmbeddings } from '../../src/util/embeddings';
import { REPO_ROOT, tmpDir } from '../support/data';
import { buildSmallCache } from '../support/smallCache';

jest.setTimeout(600_000);

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');

function cli(args: string[]): string {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`convfeat ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** The file minus the fit's wall-clock time, the one field two fits of the same model may differ in. */
function timeless(json: ClassifierJson): ClassifierJson {
  const copy = JSON.parse(JSON.stringify(json)) as ClassifierJson;
  expect(copy.provenance?.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/);
  delete (copy.provenance as { createdAt?: string }).createdAt;
  return copy;
}

describe('library and CLI defaults give the same classifier (small real cache, real ResNet50)', () => {
  const work = tmpDir('parity');
  let cacheDir = '';
  beforeAll(async () => {
    cacheDir = await buildSmallCache(work, { train: 8, val: 8, test: 4 });
  });

  test.each([
    ['defaults (C chosen on val)', [] as string[], {}],
    ['--no-val / useVal: false (C chosen by 5-fold CV)', ['--no-val'], { useVal: false }],
  ])('fit-linear vs fitFromCache, %s', async (_name, flags, options) => {
    const file = path.join(work, `clf${flags.join('')}.json`);
    const summary = JSON.parse(cli(['fit-linear', '--cache', cacheDir, '--out', file, '--json', ...flags])) as {
      C: number;
      scale: string;
      trainAccuracy: number;
      valAccuracy: number | null;
    };
    const fromCli = JSON.parse(fs.readFileSync(file, 'utf8')) as ClassifierJson;
    const lib = await fitFromCache(cacheDir, options);
    const fromLib = lib.classifier.toJSON();

    // What the issue measured apart: scaling and C. Then everything else, weights to float equality.
    expect(fromLib.params.scale).toBe('none');
    expect(fromCli.params.scale).toBe('none');
    expect(fromLib.C).toBe(fromCli.C);
    expect(summary.C).toBe(lib.classifier.C);
    expect(fromLib.weights).toEqual(fromCli.weights);
    expect(fromLib.bias).toEqual(fromCli.bias);
    expect(timeless(fromLib)).toEqual(timeless(fromCli));
    expect(lib.trainAccuracy).toBe(summary.trainAccuracy);
    expect(lib.valAccuracy).toBe(summary.valAccuracy);
    expect(lib.cSelection).toBe(flags.length ? 'cv' : 'val');

    // The same predictions and probabilities on the test split, from the file the CLI wrote.
    const test = loadSplit(cacheDir, 'test');
    const X = toEmbeddings(test.X, test.dim);
    const loaded = loadClassifier(file);
    expect(Array.from(loaded.predict(X))).toEqual(Array.from(lib.classifier.predict(X)));
    expect(Array.from(loaded.predictProba(X))).toEqual(Array.from(lib.classifier.predictProba(X)));
    process.stderr.write(
      `${_name}: C ${fromLib.C}, val accuracy ${lib.valAccuracy}, test accuracy ${lib.classifier.score(X, test.y)}\n`,
    );
  });

  test('advise vs convfeat advise, defaults', async () => {
    const fromCli = JSON.parse(cli(['advise', '--cache', cacheDir, '--json'])) as Record<string, unknown>;
    const fromLib = JSON.parse(JSON.stringify(await advise(cacheDir))) as Record<string, unknown>;
    // The run's duration differs; formatVersion is the CLI's --json envelope (commands/run's printJson).
    delete fromCli.seconds;
    delete fromLib.seconds;
    expect(fromCli.formatVersion).toBe(1);
    delete fromCli.formatVersion;
    expect(fromLib).toEqual(fromCli);
  });
});
