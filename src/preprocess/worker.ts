/**
 * Worker-thread side of PreprocessPool: decode + resize + normalise one image per message, off the main thread so
 * onnxruntime's blocking `run` never stalls it. Runs from compiled JavaScript only (see src/util/workers.ts).
 */
import { parentPort, workerData } from 'worker_threads';
import sharp from 'sharp';
import { describeError } from '../util/errors';
import { ImageDecodeError } from './decode';
import type { TransformOptions } from './options';
import { preprocessDetailed } from './transform';
import type { WorkerReply, WorkerRequest } from './protocol';

// Parallelism comes from the pool's threads; libvips' own threads per image would only oversubscribe the cores.
// The operation cache is useless for one-shot buffers and would only hold memory. Both settings belong to the one
// libvips of the process, so they also apply to the main thread while a pool is open.
sharp.concurrency(1);
sharp.cache(false);

const opts = (workerData as { opts: TransformOptions }).opts;
const port = parentPort;
if (!port) throw new Error('preprocess worker must run in a worker thread');

/** Tensors the pool handed back, reused for later images (bounded: extras are left to the garbage collector). */
const spare: Float32Array[] = [];
const MAX_SPARE = 8;

port.on('message', (request: WorkerRequest) => {
  for (const buffer of request.recycle ?? []) if (spare.length < MAX_SPARE) spare.push(new Float32Array(buffer));
  const bytes = Buffer.from(request.bytes.buffer, request.bytes.byteOffset, request.bytes.byteLength);
  const reuse = spare.pop();
  preprocessDetailed(bytes, opts, reuse).then(
    (result) => {
      const reply: WorkerReply = {
        id: request.id,
        ok: true,
        tensor: result.tensor,
        width: result.width,
        height: result.height,
        source: result.source,
      };
      port.postMessage(reply, [result.tensor.buffer as ArrayBuffer]);
    },
    (error: unknown) => {
      if (reuse && spare.length < MAX_SPARE) spare.push(reuse); // not handed out: keep it for the next image
      const reply: WorkerReply =
        error instanceof ImageDecodeError
          ? { id: request.id, ok: false, decode: true, reason: error.reason, detail: error.detail }
          : { id: request.id, ok: false, decode: false, reason: describeError(error) };
      port.postMessage(reply);
    },
  );
});

const ready: WorkerReply = { ready: true };
port.postMessage(ready);
