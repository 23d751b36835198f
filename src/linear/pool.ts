/**
 * Runs one-vs-rest path jobs across cores. X is shared with the workers through a SharedArrayBuffer (copied into
 * one only if the caller's array is not already shared); jobs are handed to whichever worker is free. Without a
 * compiled worker script (sources run by ts-jest before `npm run build`), or with one thread, jobs run in-process.
 */
import * as os from 'os';
import { Worker } from 'worker_threads';
import { ConvfeatError } from '../util/errors';
import { resolveWorkerScript } from '../util/workers';
import { PathJob, PathResult, runPathJob, SharedProblem } from './ovr';

export function defaultThreads(): number {
  const avail = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, avail);
}

function shareFloat32(a: Float32Array): Float32Array {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const s = new Float32Array(new SharedArrayBuffer(a.byteLength));
  s.set(a);
  return s;
}

function shareInt32(a: Int32Array): Int32Array {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const s = new Int32Array(new SharedArrayBuffer(a.byteLength));
  s.set(a);
  return s;
}

/** True when a compiled worker script exists (used by tests to know which path they exercise). */
export function workerAvailable(): boolean {
  return resolveWorkerScript(__dirname, 'linear/worker') !== undefined;
}

export class PathPool {
  private readonly workers: Worker[] = [];
  private closed = false;

  private constructor(private readonly shared: SharedProblem) {}

  /**
   * @param threads upper bound on worker threads; 1 (or no compiled worker) means in-process.
   * @param workerScript a compiled worker to use instead of the one beside this file (tests).
   */
  static create(shared: SharedProblem, threads: number, maxJobs: number, workerScript?: string): PathPool {
    const n = Math.min(threads, maxJobs);
    const script = n > 1 ? (workerScript ?? resolveWorkerScript(__dirname, 'linear/worker')) : undefined;
    if (!script) return new PathPool(shared);
    const X = shareFloat32(shared.X);
    const labels = shareInt32(shared.labels);
    const pool = new PathPool({ ...shared, X, labels });
    const workerData = {
      X: X.buffer,
      labels: labels.buffer,
      dim: shared.dim,
      classWeight: Array.from(shared.classWeight),
    };
    for (let i = 0; i < n; i++) pool.workers.push(new Worker(script, { workerData }));
    return pool;
  }

  get threads(): number {
    return Math.max(1, this.workers.length);
  }

  async run(jobs: PathJob[]): Promise<PathResult[]> {
    if (this.closed) throw new Error('PathPool used after close()');
    if (this.workers.length === 0) return jobs.map((job) => runPathJob(this.shared, job));
    const results: PathResult[] = new Array(jobs.length);
    let next = 0;
    const drive = (worker: Worker): Promise<void> =>
      new Promise((resolve, reject) => {
        const onMessage = (msg: { id: number; res?: PathResult; error?: string }): void => {
          if (msg.error !== undefined) return finish(new ConvfeatError(`An SVM worker failed: ${msg.error}`));
          results[msg.id] = msg.res!;
          dispatch();
        };
        const onError = (e: Error): void => finish(new ConvfeatError(`An SVM worker thread crashed: ${e.message}`));
        const finish = (err?: Error): void => {
          worker.off('message', onMessage);
          worker.off('error', onError);
          if (err) reject(err);
          else resolve();
        };
        const dispatch = (): void => {
          if (next >= jobs.length) return finish();
          const id = next++;
          worker.postMessage({ id, job: jobs[id] });
        };
        worker.on('message', onMessage);
        worker.on('error', onError);
        dispatch();
      });
    await Promise.all(this.workers.map(drive));
    return results;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}
