/**
 * `fit` time on real embeddings: a cache written by `convfeat extract` (default: the demo's ResNet50 cache of Mini
 * Natural Images), train split, C searched on val, median of --repeats runs per solver.
 *
 *   node bench/out/solvers-js/bench/solvers/real.js [--cache data/demo/cache-resnet50] [--repeats 5]
 */
import { loadSplit } from '../../src/cache/load';
import { LinearClassifier } from '../../src/linear/classifier';
import { flag, intFlag, runMain } from '../extract/common';

async function main(): Promise<void> {
  const cache = flag('cache') ?? 'data/demo/cache-resnet50';
  const repeats = intFlag('repeats', 5);
  const train = loadSplit(cache, 'train');
  const val = loadSplit(cache, 'val');
  const test = loadSplit(cache, 'test');
  console.log(`${cache}: train ${train.y.length} × ${train.dim}, val ${val.y.length}, test ${test.y.length}`);
  for (const [solver, threads] of [
    ['svm', 2],
    ['svm', 1],
    ['softmax', 2],
  ] as const) {
    const times: number[] = [];
    let clf: LinearClassifier | undefined;
    for (let r = 0; r < (solver === 'softmax' ? 1 : repeats); r++) {
      const t0 = process.hrtime.bigint();
      clf = await new LinearClassifier({ solver, scale: 'none', threads }).fit(
        { data: train.X, rows: train.y.length, dim: train.dim },
        train.y,
        { classes: train.classes, val: { X: { data: val.X, rows: val.y.length, dim: val.dim }, y: val.y } },
      );
      times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    times.sort((a, b) => a - b);
    const pred = clf!.predict({ data: test.X, rows: test.y.length, dim: test.dim });
    let hits = 0;
    for (let i = 0; i < pred.length; i++) if (pred[i] === test.y[i]) hits++;
    console.log(
      `${solver.padEnd(7)} threads ${threads}  fit median ${times[Math.floor(times.length / 2)]!.toFixed(3)} s (${times.map((t) => t.toFixed(2)).join(', ')})  C ${clf!.C.toPrecision(3)}  C values ${clf!.cSearch?.table.length}  test ${((100 * hits) / pred.length).toFixed(2)} %`,
    );
  }
}

runMain(main);
