/**
 * By-hand check (not part of the test suite): our dual CD against LIBLINEAR `train -s 1 -B 1` at a tight tolerance
 * on small data; prints the largest weight difference.  node bench/out/solvers-js/bench/solvers/agree.js
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { allRows } from '../../src/linear/data';
import { trainPaths } from '../../src/linear/train';
import { findLiblinear, readLiblinearModel, runLiblinear, writeLibsvm } from './liblinear';
import { runMain } from '../extract/common';
import { synthetic } from './synthetic';

async function main(): Promise<void> {
  const bin = findLiblinear();
  if (!bin) return console.log('LIBLINEAR not installed: skipped');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convfeat-agree-'));
  for (const [n, dim, K, C] of [
    [300, 20, 2, 1],
    [400, 30, 4, 0.5],
    [600, 50, 5, 0.05],
  ]) {
    const d = synthetic(n, dim, K, 5, 0.2);
    writeLibsvm(path.join(dir, 't.txt'), d.X, d.y, dim);
    runLiblinear(bin, path.join(dir, 't.txt'), path.join(dir, 'm'), C, 1e-6);
    const W = readLiblinearModel(path.join(dir, 'm'), K, dim);
    const ours = (
      await trainPaths(
        'svm',
        { X: d.X, dim, labels: d.y, classes: K, classWeight: new Float64Array(K).fill(1) },
        [allRows(n)],
        [C],
        { tol: 1e-6, maxIter: 100000, seed: 1, threads: 1 },
      )
    ).weights[0][0];
    let maxAbs = 0;
    let maxW = 0;
    for (let i = 0; i < W.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(W[i] - ours[i]));
      maxW = Math.max(maxW, Math.abs(W[i]));
    }
    console.log(
      `${n}×${dim}, ${K} classes, C=${C}: max |w_ours − w_liblinear| = ${maxAbs.toExponential(2)} (max |w| ${maxW.toFixed(3)})`,
    );
  }
  fs.rmSync(dir, { recursive: true, force: true });
}
runMain(main);
