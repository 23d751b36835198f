/**
 * The two durable writes that store one batch of rows: the shard file (temp, fsync, rename, fsync of the folder),
 * then the index lines naming it (append, fsync). The index line of a shard carries the shard's sha256, which is
 * known once the shard is written; the row lines are prepared beforehand by the store. Plain data in, plain data out,
 * so that the same function runs on the main thread (EmbeddingStore.putBatch) or in the write thread that takes
 * the fsyncs off extraction's critical path (batch-writer.ts).
 */
import { appendDurable, writeDurable } from './durable';
import { shardLine } from './index-file';

export interface BatchFiles {
  /** Shard file name (sNNNNNN.npy) and its full path. */
  name: string;
  shardFile: string;
  indexFile: string;
  rows: number;
  /** .npy header and the rows' bytes, written in this order. */
  header: Uint8Array;
  body: Uint8Array;
  /** The index's row lines for this shard, after its shard line. */
  rowLines: string;
}

/** Writes the shard, then its index lines; returns the shard's sha256. Crash points: shard-*, index-*. */
export function writeBatchFiles(files: BatchFiles): string {
  const sha256 = writeDurable(files.shardFile, [files.header, files.body], 'shard', 'the shard');
  appendDurable(files.indexFile, shardLine(files.name, files.rows, sha256) + files.rowLines, 'index');
  return sha256;
}
