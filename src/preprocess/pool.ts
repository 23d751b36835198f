/**
 * Decode + resize in worker threads. onnxruntime's `session.run` blocks the event loop for a whole inference, so
 * preprocessing on the main thread (even sharp's async decode, whose completion callbacks need the loop) would wait
 * behind it; in workers the next batch is prepared while the current one runs.
 *
 * Input buffers are transferred (moved, not copied) when they own their memory; tensors come back the same way.
 * Without compiled JavaScript (running from TypeScript sources before a build), or with threads = 0, or if workers
 * cannot start, the pool runs the same code in-process, transparently.
 */
import * as os from 'os';
import { Worker } from 'worker_threads';
import { ConvfeatError } from '../util/errors';
import { integerInRange, invalid } from '../util/validate';
import { resolveWorkerScript } from '../util/workers';
import { ImageDecodeError } from './decode';
import { validateTransformOptions, type TransformOptions } from './options';
import type { WorkerReply, WorkerRequest } from './protocol';
import { preprocessDetailed, type Preprocessed } from './transform';

export interface PreprocessPoolOptions {
  /** Worker threads; 0 runs in-process. A good value is the number of cores left over by inference. */
  threads: number;
  opts: TransformOptions;
  /**
   * Move input buffers to the workers instead of copying them (default true). A moved Buffer is detached: its
   * length becomes 0 in the caller. Buffers that share memory (Node's small-buffer pool, slices) are always copied.
   */
  transfer?: boolean;
  /**
   * Images sent to one worker ahead of its replies (default 2). The main thread can only hand out work between
   * onnxruntime runs, which block it; a caller that infers batches of n should allow about n per worker so the
   * workers decode the whole next batch during a run instead of idling after two images.
   */
  inFlightPerWorker?: number;
  /** Compiled worker script to use instead of the default one (tests, bundlers). */
  workerScript?: string;
}

interface Task {
  id: number;
  bytes: Buffer;
  /** Workers that died while holding this image: a second death marks it as the culprit. */
  deaths: number;
  resolve: (value: Preprocessed) => void;
  reject: (error: unknown) => void;
}

interface Slot {
  worker: Worker;
  /** Images sent to this worker and not answered yet, by id. */
  tasks: Map<number, Task>;
  /** The worker loaded its modules and said so; only ready workers get images, so a failed start loses none. */
  ready: boolean;
  exited: boolean;
}

/**
 * Images in flight per worker: two, so a worker resamples one image while libvips decodes the next; with one, every
 * image pays the thread hand-offs (main → worker → libvips thread → worker → main) in sequence.
 */
const DEFAULT_IN_FLIGHT_PER_WORKER = 2;

/** Spent tensors kept for reuse: about a batch and a window's worth; more would only hold memory. */
const MAX_SPARE = 32;

/** Workers that die before becoming ready, in a row, before the pool gives up on workers. */
const MAX_STARTUP_FAILURES = 3;

/**
 * Preprocessing workers when --workers is not given. On CPU the model needs the cores (at most 4 workers beside
 * onnxruntime's threads); when inference runs on a GPU, decoding and resizing are the ceiling, so every core but the
 * main thread's decodes (up to 64, the --workers limit).
 */
export function defaultPreprocessThreads(forGpu = false, cores = os.availableParallelism()): number {
  return Math.max(1, Math.min(forGpu ? 64 : 4, cores - 1));
}

export class PreprocessPool {
  private readonly opts: TransformOptions;
  private readonly transfer: boolean;
  private readonly inFlightPerWorker: number;
  private readonly script: string | undefined;
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Spent tensors from recycle(), sent back with the next requests (workers) or reused here (in-process). */
  private readonly spare: Float32Array[] = [];
  private nextId = 0;
  private failures = 0;
  private closed = false;
  private workersActive: boolean;
  /** Why the pool runs in-process, when it does. */
  fallbackReason: string | undefined;
  readonly threads: number;

  constructor(options: PreprocessPoolOptions) {
    if (typeof options !== 'object' || options === null) throw invalid('pool options', 'an object', options);
    this.threads = integerInRange('threads', options.threads, 0, 256);
    this.opts = validateTransformOptions(options.opts);
    if (options.transfer !== undefined && typeof options.transfer !== 'boolean') {
      throw invalid('transfer', 'a boolean', options.transfer);
    }
    this.transfer = options.transfer ?? true;
    this.inFlightPerWorker =
      options.inFlightPerWorker === undefined
        ? DEFAULT_IN_FLIGHT_PER_WORKER
        : integerInRange('inFlightPerWorker', options.inFlightPerWorker, 1, 4096);
    this.script = options.workerScript ?? resolveWorkerScript(__dirname, 'preprocess/worker');
    if (this.threads === 0) this.fallbackReason = 'threads = 0';
    else if (!this.script) this.fallbackReason = 'no compiled worker script (run `npm run build`)';
    this.workersActive = this.fallbackReason === undefined;
    if (this.workersActive) for (let i = 0; i < this.threads; i++) this.slots.push(this.spawn());
  }

  /** Whether close() was called: the pool takes no more images. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** 'workers' while worker threads do the work, 'in-process' otherwise (see fallbackReason). */
  get mode(): 'workers' | 'in-process' {
    return this.workersActive ? 'workers' : 'in-process';
  }

  /** Encoded image → normalised tensor. Rejects with ImageDecodeError (a short reason) for undecodable images. */
  async run(bytes: Buffer): Promise<Float32Array> {
    return (await this.runDetailed(bytes)).tensor;
  }

  /**
   * Hands back tensors this pool produced that the caller no longer reads (e.g. once copied into a batch): later
   * images are written into them instead of into fresh 600 KB allocations, on the worker side and on the main
   * thread alike (fewer garbage collections). A tensor must not be read after it is recycled.
   */
  recycle(tensors: readonly Float32Array[]): void {
    for (const t of tensors) {
      if (this.spare.length >= MAX_SPARE) return;
      const owns = t.buffer instanceof ArrayBuffer && t.byteOffset === 0 && t.byteLength === t.buffer.byteLength;
      if (owns && t.length > 0) this.spare.push(t);
    }
  }

  runDetailed(bytes: Buffer): Promise<Preprocessed> {
    if (this.closed) return Promise.reject(new ConvfeatError('The preprocessing pool is closed.'));
    if (!(bytes instanceof Uint8Array)) return Promise.reject(invalid('bytes', 'a Buffer', bytes));
    const view = bytes as Uint8Array;
    const buf = Buffer.isBuffer(view) ? view : Buffer.from(view.buffer, view.byteOffset, view.byteLength);
    if (!this.workersActive) return this.track(preprocessDetailed(buf, this.opts, this.spare.pop()));
    const promise = new Promise<Preprocessed>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, bytes: buf, deaths: 0, resolve, reject });
    });
    this.dispatch();
    return this.track(promise);
  }

  /** Finishes the images already started, refuses queued ones, and stops the workers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const task of this.queue.splice(0)) task.reject(new ConvfeatError('The preprocessing pool was closed.'));
    await Promise.allSettled([...this.inFlight]);
    // Terminating a worker in the middle of a libvips call can crash the process; by now every worker is idle.
    await Promise.all(this.slots.map((slot) => (slot.exited ? undefined : slot.worker.terminate())));
    this.slots.length = 0;
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inFlight.add(promise);
    const forget = () => this.inFlight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  private spawn(): Slot {
    const worker = new Worker(this.script!, { workerData: { opts: this.opts } });
    const slot: Slot = { worker, tasks: new Map(), ready: false, exited: false };
    worker.on('message', (reply: WorkerReply) => this.onReply(slot, reply));
    worker.on('error', (error) => this.onDeath(slot, `preprocess worker failed: ${error.message}`));
    worker.on('exit', (code) => this.onDeath(slot, `preprocess worker exited with code ${code}`));
    return slot;
  }

  private dispatch(): void {
    // Round by round, so that images spread over the workers before any worker gets a second one.
    for (let round = 0; round < this.inFlightPerWorker; round++) {
      for (const slot of this.slots) {
        if (this.queue.length === 0) break;
        if (slot.tasks.size > round || slot.exited || !slot.ready) continue;
        const task = this.queue.shift()!;
        slot.tasks.set(task.id, task);
        const { view, transferList } = this.outgoing(task.bytes);
        const request: WorkerRequest = { id: task.id, bytes: view };
        // One spent tensor rides along with each image (moved, not copied): no extra message.
        const give = this.spare.pop();
        if (give) {
          request.recycle = [give.buffer as ArrayBuffer];
          transferList.push(give.buffer as ArrayBuffer);
        }
        try {
          slot.worker.postMessage(request, transferList);
        } catch (error) {
          slot.tasks.delete(task.id);
          task.reject(error);
        }
      }
    }
    this.updateRefs();
  }

  /** Workers keep the process alive only while there is work; an idle, forgotten pool does not block exit. */
  private updateRefs(): void {
    for (const slot of this.slots) {
      if (slot.exited) continue;
      if (slot.tasks.size > 0 || this.queue.length > 0) slot.worker.ref();
      else slot.worker.unref();
    }
  }

  private outgoing(bytes: Buffer): { view: Uint8Array; transferList: ArrayBuffer[] } {
    const backing = bytes.buffer;
    const ownsMemory =
      backing instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === backing.byteLength;
    if (this.transfer && ownsMemory) return { view: bytes, transferList: [backing] };
    const copy = new Uint8Array(bytes.byteLength);
    copy.set(bytes);
    return { view: copy, transferList: [copy.buffer] };
  }

  private onReply(slot: Slot, reply: WorkerReply): void {
    if ('ready' in reply) {
      slot.ready = true;
      this.failures = 0;
      this.dispatch();
      return;
    }
    const task = slot.tasks.get(reply.id);
    slot.tasks.delete(reply.id);
    if (task) {
      if (reply.ok) {
        task.resolve({ tensor: reply.tensor, width: reply.width, height: reply.height, source: reply.source });
      } else if (reply.decode) {
        task.reject(new ImageDecodeError(reply.reason, reply.detail));
      } else {
        task.reject(new ConvfeatError(reply.reason));
      }
    }
    this.dispatch();
  }

  private onDeath(slot: Slot, message: string): void {
    if (slot.exited) return;
    slot.exited = true;
    const lost = [...slot.tasks.values()];
    slot.tasks.clear();
    // Which of the images in flight killed the worker is unknown: each gets one more try on a fresh worker when its
    // bytes were copied (not moved); an image present at two deaths fails with the reason.
    for (const task of lost) {
      task.deaths += 1;
      if (task.deaths < 2 && task.bytes.byteLength > 0 && !this.closed) this.queue.unshift(task);
      else task.reject(new ConvfeatError(message));
    }
    const index = this.slots.indexOf(slot);
    if (this.closed || index < 0) return;
    if (!slot.ready) this.failures++;
    if (this.failures < MAX_STARTUP_FAILURES) {
      // One image killed its worker (e.g. out of memory), or a start failed once: keep the pool at full strength.
      this.slots[index] = this.spawn();
      this.dispatch();
      return;
    }
    if (this.slots.some((other) => other !== slot && other.ready && !other.exited)) {
      // New workers keep failing to start but some run: carry on with those.
      this.slots.splice(index, 1);
      this.dispatch();
      return;
    }
    // Workers cannot start here (a stale or broken build): do the work in-process instead. Queued images were never
    // sent to a worker, so their bytes are intact; the remaining workers are still starting, not decoding.
    this.fallbackReason = message;
    this.workersActive = false;
    for (const t of this.queue.splice(0)) preprocessDetailed(t.bytes, this.opts).then(t.resolve, t.reject);
    for (const other of this.slots) if (!other.exited) void other.worker.terminate();
    this.slots.length = 0;
  }
}
