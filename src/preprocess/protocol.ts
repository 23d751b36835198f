/** Messages between PreprocessPool and its worker threads. */

export interface WorkerRequest {
  id: number;
  bytes: Uint8Array;
  /** Spent tensors handed back (moved) for the worker to write later images into, instead of allocating. */
  recycle?: ArrayBuffer[];
}

export type WorkerReply =
  | {
      id: number;
      ok: true;
      tensor: Float32Array;
      width: number;
      height: number;
      source: { width: number; height: number; format: string };
    }
  | { id: number; ok: false; decode: boolean; reason: string; detail?: string }
  | { ready: true };
