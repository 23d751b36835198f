/**
 * Solver bench: our dual-CD SVM and L-BFGS softmax against LIBLINEAR's `train -s 1` (same C, same numbers written in
 * its text format) and ml-svm at the sizes it can handle, on synthetic Gaussian classes (./synthetic.ts).
 *
 *   npx tsc -p bench/solvers/tsconfig.json && node bench/out/solvers-js/bench/solvers/solvers.js [--n 100000] ...
 *
 * LIBLINEAR is looked up as `liblinear-train` (Debian liblinear-tools) or `train`; if absent, it is skipped with a
 * line saying so. Times are wall clock; ours are the solver (data already in memory), LIBLINEAR's the whole command,
 * so we also time `train -e 1e30` (read + one sweep) and print LIBLINEAR's time minus that as "solve only".
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { allRows } from '../../src/linear/data';
import { ML_SVM_MAX_ROWS } from '../../src/linear/mlsvm';
import { decisionValues, EngineData, trainPaths } from '../../src/linear/train';
import { defaultThreads } from '../../src/linear/pool';
import { findLiblinear, readLiblinearModel, runLiblinear, writeLibsvm } from './liblinear';
import { intFlag, numberFlag, runMain } from '../extract/common';
import { synthetic } from './synthetic';

const n = intFlag('n', 100000);
const dim = intFlag('dim', 512);
const K = intFlag('classes', 10, 2);
const nTest = intFlag('test', 20000);
const C = numberFlag('C', 0.001);
const repeats = intFlag('repeats', 3);
const separation = numberFlag('separation', 0.15);
const threads = intFlag('threads', Math.min(2, defaultThreads()));
const mlSvmBudgetMs = intFlag('ml-svm-budget', 60000);
// ml-svm is a hinge-loss SVM with an unregularised bias: LIBLINEAR's C does not transfer, so it gets its own.
const mlSvmC = numberFlag('ml-svm-C', 1);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const now = (): number => Number(process.hrtime.bigint()) / 1e6;

function accuracy(X: Float32Array, y: Int32Array, W: Float64Array): number {
  const s = decisionValues(X, dim, W, K);
  let c = 0;
  for (let i = 0; i < y.length; i++) {
    let b = 0;
    for (let k = 1; k < K; k++) if (s[i * K + k] > s[i * K + b]) b = k;
    if (b === y[i]) c++;
  }
  return c / y.length;
}

async function main(): Promise<void> {
  console.log(
    `# synthetic ${n} × ${dim}, ${K} classes (+${nTest} test rows), C = ${C}, ${threads} threads, ${os.cpus()[0]?.model ?? ''}`,
  );
  const all = synthetic(n + nTest, dim, K, 7, separation, true);
  const X = all.X.subarray(0, n * dim);
  const y = all.y.subarray(0, n);
  const Xt = all.X.subarray(n * dim);
  const yt = all.y.subarray(n);
  const data: EngineData = { X: all.X, dim, labels: all.y, classes: K, classWeight: new Float64Array(K).fill(1) };
  const rows = allRows(n);
  const rowsOut: string[][] = [];

  const svmTimes: number[] = [];
  let Wsvm: Float64Array = new Float64Array(0);
  for (let r = 0; r < repeats; r++) {
    const t = now();
    const out = await trainPaths('svm', data, [rows], [C], { tol: 0.1, maxIter: 1000, seed: 1 + r, threads });
    svmTimes.push(now() - t);
    Wsvm = out.weights[0][0] as Float64Array;
  }
  const svmMs = median(svmTimes);
  const svmAcc = accuracy(Xt, yt, Wsvm);

  const bin = findLiblinear();
  let llMs: number | undefined;
  let llSolveMs: number | undefined;
  let llAcc: number | undefined;
  let wDiff: number | undefined;
  if (!bin) {
    console.log('LIBLINEAR: skipped (neither liblinear-train nor train found; apt-get install liblinear-tools)');
  } else {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convfeat-bench-'));
    const file = path.join(dir, 'train.txt');
    writeLibsvm(file, X, y, dim);
    const times: number[] = [];
    for (let r = 0; r < repeats; r++) times.push(runLiblinear(bin, file, path.join(dir, 'model'), C));
    const readTimes: number[] = [];
    for (let r = 0; r < Math.max(1, repeats - 2); r++)
      readTimes.push(runLiblinear(bin, file, path.join(dir, 'model0'), C, 1e30));
    llMs = median(times);
    llSolveMs = llMs - median(readTimes);
    const W = readLiblinearModel(path.join(dir, 'model'), K, dim);
    llAcc = accuracy(Xt, yt, W);
    let num = 0;
    let den = 0;
    for (let i = 0; i < W.length; i++) {
      num += (W[i] - Wsvm[i]) ** 2;
      den += W[i] ** 2;
    }
    wDiff = Math.sqrt(num / den);
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const tSoft = now();
  const soft = await trainPaths('softmax', data, [rows], [C], { tol: 1e-4, maxIter: 500, seed: 1, threads });
  const softMs = now() - tSoft;
  const softAcc = accuracy(Xt, yt, soft.weights[0][0]);
  const softIters = (soft.history?.[0][0].length ?? 1) - 1;

  const fmt = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
  const ratio = (ms: number): string => (llMs ? `${(ms / llMs).toFixed(2)}×` : 'n/a');
  const ratioSolve = (ms: number): string => (llSolveMs ? `${(ms / llSolveMs).toFixed(2)}×` : 'n/a');
  const pct = (a: number | undefined): string => (a === undefined ? 'n/a' : `${(100 * a).toFixed(2)} %`);
  rowsOut.push([
    `convfeat svm (dual CD, ${threads} threads)`,
    String(n),
    fmt(svmMs),
    ratio(svmMs),
    ratioSolve(svmMs),
    pct(svmAcc),
  ]);
  if (llMs !== undefined) {
    rowsOut.push(['LIBLINEAR train -s 1 -B 1 (whole command)', String(n), fmt(llMs), '1.00×', '', pct(llAcc)]);
    rowsOut.push(['LIBLINEAR, minus read + 1 sweep (-e 1e30)', String(n), fmt(llSolveMs!), '', '1.00×', '']);
  }
  rowsOut.push([
    `convfeat softmax (L-BFGS, ${softIters} iterations, 1 thread)`,
    String(n),
    fmt(softMs),
    ratio(softMs),
    ratioSolve(softMs),
    pct(softAcc),
  ]);

  for (const size of [250, 500, 1000, 2000].filter((s) => s <= Math.min(n, ML_SVM_MAX_ROWS))) {
    const sub = allRows(size);
    const t = now();
    let out;
    try {
      out = await trainPaths('ml-svm', data, [sub], [mlSvmC], { tol: 1e-4, maxIter: 10000, seed: 1, threads: 1 });
    } catch (e) {
      rowsOut.push([`ml-svm (one-vs-rest)`, String(size), `failed: ${(e as Error).message}`, '', '', '']);
      break;
    }
    const ms = now() - t;
    const ours = await trainPaths('svm', data, [sub], [mlSvmC], { tol: 0.1, maxIter: 1000, seed: 1, threads });
    rowsOut.push([
      `ml-svm (one-vs-rest, C = ${mlSvmC})`,
      String(size),
      fmt(ms),
      '',
      '',
      `${pct(accuracy(Xt, yt, out.weights[0][0]))} (ours on same rows: ${pct(accuracy(Xt, yt, ours.weights[0][0]))})`,
    ]);
    if (ms > mlSvmBudgetMs / 4) break; // the next size takes about 4× longer
  }

  console.log('');
  console.log('| solver | train rows | wall time | vs LIBLINEAR command | vs LIBLINEAR solve | test accuracy |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const r of rowsOut) console.log(`| ${r.join(' | ')} |`);
  if (wDiff !== undefined)
    console.log(
      `\nrelative ‖W_convfeat − W_LIBLINEAR‖ / ‖W_LIBLINEAR‖ = ${wDiff.toExponential(2)} (both stop at eps 0.1)`,
    );
  console.log(`svm times (ms): ${svmTimes.map((t) => t.toFixed(0)).join(', ')}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
