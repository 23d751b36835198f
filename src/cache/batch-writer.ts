/**
 * Takes the store's durable writes off extraction's critical path. onnxruntime's `session.run` blocks the main
 * thread for a whole batch, and each stored batch costs three fsyncs (shard, its folder, the index): 2–17 ms per
 * batch on this shared disk, during which no inference ran. In a write thread the fsyncs of batch k overlap the
 * inference of batch k + 1 (Node's own async fs would not help: each step of an fs.promises chain needs the blocked
 * main thread to issue the next one).
 *
 * One batch at a time, in order: the caller awaits a write before preparing the next batch, so shard names, index
 * order and the crash-safety argument (a row is listed only after its shard and index lines are durable) are those
 * of EmbeddingStore.putBatch. Without compiled JavaScript (running from TypeScript sources), or if the thread cannot
 * start, the same writes run on the calling thread.
 */
import { Worker } from 'worker_threads';
import { ConvfeatError } from '../util/errors';
import type { ExitCode } from '../util/errors';
import { resolveWorkerScript } from '../util/workers';
import { writeBatchFiles, type BatchFiles } from './batch-files';
import type { WriteReply, WriteRequest } from './write-worker';

interface Waiting {
  resolve: (sha256: string) => void;
  reject: (error: unknown) => void;
}

export class BatchWriter {
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 0;
  private failed: string | undefined;

  private started = false;

  /** The thread starts at the first write: a run that stores nothing (all cached) never pays for it. */
  constructor(
    private readonly workerScript: string | undefined = resolveWorkerScript(__dirname, 'cache/write-worker'),
  ) {}

  private start(): void {
    this.started = true;
    if (!this.workerScript) return; // in-process writes
    try {
      this.worker = new Worker(this.workerScript);
    } catch {
      return;
    }
    this.worker.unref();
    this.worker.on('message', (reply: WriteReply) => this.onReply(reply));
    this.worker.on('error', (error) => this.onDeath(`the write thread failed: ${error.message}`));
    this.worker.on('exit', (code) => this.onDeath(`the write thread exited with code ${code}`));
  }

  /** Whether writes run in the write thread (false before the first write, and when they run in-process). */
  get threaded(): boolean {
    return this.worker !== undefined;
  }

  /** Writes one batch's shard and index lines; resolves with the shard's sha256 once both are durable. */
  write(files: BatchFiles): Promise<string> {
    if (this.failed !== undefined) return Promise.reject(new ConvfeatError(this.failed));
    if (!this.started) this.start();
    if (!this.worker) {
      try {
        return Promise.resolve(writeBatchFiles(files));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const id = this.nextId++;
    const request: WriteRequest = { id, files };
    const done = new Promise<string>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    this.worker.ref(); // a write in flight keeps the process alive
    this.worker.postMessage(request);
    return done;
  }

  async close(): Promise<void> {
    this.started = true; // no thread after close: later writes (none are expected) run in-process
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }

  private onReply(reply: WriteReply): void {
    const waiting = this.waiting.get(reply.id);
    this.waiting.delete(reply.id);
    if (this.waiting.size === 0) this.worker?.unref();
    if (!waiting) return;
    if (reply.ok) waiting.resolve(reply.sha256);
    else
      waiting.reject(
        reply.convfeat ? new ConvfeatError(reply.message, reply.exitCode as ExitCode) : new Error(reply.message),
      );
  }

  private onDeath(message: string): void {
    if (this.worker === undefined) return; // closed on purpose
    this.worker = undefined;
    this.failed = message;
    // What it was writing may or may not be durable; the store will find out at its next open (recovery.ts).
    for (const w of this.waiting.values()) w.reject(new ConvfeatError(message));
    this.waiting.clear();
  }
}
