import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';
import { PathPool } from '../../src/linear/pool';
import { runPathJob, PathJob } from '../../src/linear/ovr';
import { tmpDir } from '../support/data';
import { blobs } from './helpers';

/**
 * Worker threads need compiled JavaScript; ts-jest runs sources. Transpile the worker and the modules it imports
 * into a temporary folder so the real worker path runs whether or not `npm run build` has been done.
 */
function compileWorker(): string {
  const out = tmpDir('worker');
  const src = path.resolve(__dirname, '..', '..', 'src');
  for (const rel of ['linear/worker', 'linear/ovr', 'linear/svm', 'util/prng']) {
    const code = fs.readFileSync(path.join(src, `${rel}.ts`), 'utf8');
    const js = ts.transpileModule(code, {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    fs.mkdirSync(path.join(out, path.dirname(rel)), { recursive: true });
    fs.writeFileSync(path.join(out, `${rel}.js`), js);
  }
  return path.join(out, 'linear', 'worker.js');
}

test('one-vs-rest jobs in worker threads (shared X) equal the in-process results exactly', async () => {
  const { X, y } = blobs(300, 16, 5, 9, 1.0, 2);
  const shared = { X, dim: 16, labels: y, classWeight: new Float64Array(5).fill(1) };
  const rows = Int32Array.from({ length: 300 }, (_, i) => i);
  const jobs: PathJob[] = [0, 1, 2, 3, 4].map((positive) => ({
    positive,
    rows,
    Cs: [0.1, 1],
    eps: 0.01,
    maxIter: 1000,
    seed: 40 + positive,
  }));
  const pool = PathPool.create(shared, 2, jobs.length, compileWorker());
  expect(pool.threads).toBe(2);
  try {
    const threaded = await pool.run(jobs);
    jobs.forEach((job, i) => expect(Array.from(threaded[i].w)).toEqual(Array.from(runPathJob(shared, job).w)));
  } finally {
    await pool.close();
  }
});
