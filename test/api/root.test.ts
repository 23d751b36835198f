/**
 * The package root is curated: the doors a user starts from, each stage as a namespace, and no internals. The
 * package.json `exports` map keeps deep dist/ paths from becoming API (test/e2e/library.test.ts checks it installed).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as root from '../../src';
import { REPO_ROOT } from '../support/data';

test('the root offers the doors and the stage namespaces, not the internals', () => {
  const doors = [
    'featureExtractor',
    'classifierPipeline',
    'LinearClassifier',
    'fitFromCache',
    'evaluateOnCache',
    'writeReport',
    'advise',
    'learningCurve',
    'exportFusedOnnx',
    'predictDataset',
    'auditCache',
    'scanDataset',
    'loadClassifier',
    'saveClassifier',
    'exportClassifier',
    'labelledSplits',
  ];
  for (const name of doors) expect(typeof (root as Record<string, unknown>)[name]).toBe('function');
  for (const ns of ['dataset', 'preprocess', 'backbone', 'cache', 'linear', 'report', 'deploy', 'audit', 'npy'])
    expect(typeof (root as Record<string, unknown>)[ns]).toBe('object');
  for (const internal of ['CacheLock', 'ListingWriter', 'minimizeLbfgs', 'runBatch', 'createSession'])
    expect(Object.keys(root)).not.toContain(internal);
  // ...and still there for advanced use, under their stage.
  expect(typeof root.cache.CacheLock).toBe('function');
  expect(typeof root.backbone.runBatch).toBe('function');
  expect(typeof root.cache.extractDataset).toBe('function');
  expect(typeof root.deploy.openPredictionWriter).toBe('function');
  expect(Object.keys(root).length).toBeLessThan(50);
});

test('package.json exports only the root (with its types) and package.json', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
    exports: Record<string, unknown>;
  };
  expect(pkg.exports).toEqual({
    '.': { types: './dist/index.d.ts', default: './dist/index.js' },
    './package.json': './package.json',
  });
});
