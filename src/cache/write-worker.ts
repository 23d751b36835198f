/**
 * Write-thread side of BatchWriter: one batch's shard and index lines per message, written and fsynced with the
 * same synchronous code the store uses on the main thread (batch-files.ts), so the write protocol and its crash
 * points are the same. A crash point reached here SIGKILLs the whole process, as on the main thread.
 */
import { parentPort } from 'worker_threads';
import { ConvfeatError, describeError } from '../util/errors';
import { writeBatchFiles, type BatchFiles } from './batch-files';

export type WriteRequest = { id: number; files: BatchFiles };
export type WriteReply =
  | { id: number; ok: true; sha256: string }
  | { id: number; ok: false; message: string; exitCode: number; convfeat: boolean };

const port = parentPort;
if (!port) throw new Error('the write worker must run in a worker thread');

port.on('message', ({ id, files }: WriteRequest) => {
  let reply: WriteReply;
  try {
    reply = { id, ok: true, sha256: writeBatchFiles(files) };
  } catch (error) {
    const convfeat = error instanceof ConvfeatError;
    reply = { id, ok: false, message: describeError(error), exitCode: convfeat ? error.exitCode : 1, convfeat };
  }
  port.postMessage(reply);
});
