/**
 * Worker-thread entry for one-vs-rest SVM jobs. X and the labels arrive once, as SharedArrayBuffers (no copy);
 * each message is one PathJob and is answered with its weights (transferred, not copied).
 */
import { parentPort, workerData } from 'worker_threads';
import { runPathJob, SharedProblem, PathJob } from './ovr';

interface Init {
  X: SharedArrayBuffer;
  labels: SharedArrayBuffer;
  dim: number;
  classWeight: number[];
}

const init = workerData as Init;
const shared: SharedProblem = {
  X: new Float32Array(init.X),
  labels: new Int32Array(init.labels),
  dim: init.dim,
  classWeight: Float64Array.from(init.classWeight),
};

parentPort!.on('message', (msg: { id: number; job: PathJob }) => {
  try {
    const res = runPathJob(shared, msg.job);
    parentPort!.postMessage({ id: msg.id, res }, [res.w.buffer as ArrayBuffer, res.alpha.buffer as ArrayBuffer]);
  } catch (e) {
    parentPort!.postMessage({ id: msg.id, error: e instanceof Error ? e.message : String(e) });
  }
});
