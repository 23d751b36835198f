/**
 * The issue's small target: `svm` fit including the C search on 1,022 × 2,048, 8 classes (the size of Mini Natural
 * Images' ResNet50 train embeddings), C chosen on a 695-row val split, through the public LinearClassifier.
 * Synthetic non-negative "post-ReLU-like" features stand in for the real embeddings (same shape and scaling path).
 *
 *   node bench/out/solvers-js/bench/solvers/mini.js [--repeats 5] [--solver svm|softmax] [--threads N]
 */
import { LinearClassifier } from '../../src/linear/classifier';
import { BenchUsageError, flag, intFlag, runMain } from '../extract/common';
import { synthetic } from './synthetic';

const repeats = intFlag('repeats', 5);
const solver = (flag('solver') ?? 'svm') as 'svm' | 'softmax';
if (solver !== 'svm' && solver !== 'softmax')
  throw new BenchUsageError(`Expected --solver to be svm or softmax but received ${JSON.stringify(solver)}`);
const threads = flag('threads') === undefined ? undefined : intFlag('threads', 1);

async function main(): Promise<void> {
  const all = synthetic(1022 + 695, 2048, 8, 3, 0.12);
  // Pooled ConvNet features are non-negative: clamp like a ReLU.
  for (let k = 0; k < all.X.length; k++) if (all.X[k] < 0) all.X[k] = 0;
  const X = all.X.slice(0, 1022 * 2048);
  const y = all.y.slice(0, 1022);
  const val = { X: all.X.slice(1022 * 2048), y: all.y.slice(1022) };
  const times: number[] = [];
  let clf: LinearClassifier | undefined;
  for (let r = 0; r < repeats; r++) {
    const t = process.hrtime.bigint();
    clf = await new LinearClassifier({ solver, C: 'auto', scale: 'l2', seed: 1 + r, threads }).fit(
      { data: X, rows: 1022, dim: 2048 },
      y,
      { val: { X: { data: val.X, rows: val.y.length, dim: 2048 }, y: val.y } },
    );
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  const pred = clf!.predict({ data: val.X, rows: val.y.length, dim: 2048 });
  const acc = pred.reduce((s, p, k) => s + (p === val.y[k] ? 1 : 0), 0) / pred.length;
  const sorted = [...times].sort((a, b) => a - b);
  console.log(
    `${solver} fit with C search (${clf!.cSearch!.table.length} values of C, on val), 1022 × 2048, 8 classes, ${clf!.getParams().threads ?? 'auto'} threads`,
  );
  console.log(
    `  wall times (ms): ${times.map((t) => t.toFixed(0)).join(', ')}; median ${sorted[Math.floor(repeats / 2)].toFixed(0)} ms`,
  );
  console.log(`  chosen C = ${clf!.C}, val accuracy ${(100 * acc).toFixed(2)} %`);
  console.log(`  table: ${clf!.cSearch!.table.map((r) => `${r.C}:${(100 * r.score).toFixed(1)}`).join(' ')}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
