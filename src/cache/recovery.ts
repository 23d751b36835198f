/**
 * What a writer cleans up on open, holding the cache lock (so whoever left these files is dead): temp files of
 * interrupted atomic writes, a torn last index line, and shard files no index line uses (a run killed between its
 * shard rename and its index append, or a compaction killed before it deleted the shards it replaced).
 */
import * as fs from 'fs';
import * as path from 'path';
import { crashPoint } from './crash';
import { SHARD_NAME } from './index-file';

/** Temp files of atomic writes start with "." and contain ".tmp-": leftovers of a killed writer. */
export function isLeftoverTemp(name: string): boolean {
  return name.startsWith('.') && name.includes('.tmp-');
}

export function removeLeftoverTemps(dirs: readonly string[]): void {
  for (const dir of dirs) {
    for (const name of fs.readdirSync(dir)) if (isLeftoverTemp(name)) fs.rmSync(path.join(dir, name), { force: true });
  }
}

/** A torn last line (killed mid-append) is cut off, so the next append starts on a line of its own. */
export function repairIndexTail(file: string): void {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r+');
  } catch {
    return;
  }
  try {
    const size = fs.fstatSync(fd).size;
    const tail = Buffer.alloc(Math.min(size, 1 << 16));
    let end = size;
    // Walk back to the last newline in 64 KiB steps (a line is ~100 bytes; the file may be gigabytes).
    while (end > 0) {
      const start = Math.max(0, end - tail.length);
      fs.readSync(fd, tail, 0, end - start, start);
      const nl = tail.subarray(0, end - start).lastIndexOf(0x0a);
      if (nl >= 0) {
        if (start + nl + 1 !== size) fs.ftruncateSync(fd, start + nl + 1);
        return;
      }
      end = start;
    }
    if (size > 0) fs.ftruncateSync(fd, 0);
  } finally {
    fs.closeSync(fd);
  }
}

/** Deletes the shard files of `shardsDir` that are not in `live`; returns how many. */
export function removeUnusedShards(shardsDir: string, live: ReadonlySet<string>): number {
  let removed = 0;
  for (const name of fs.readdirSync(shardsDir)) {
    if (live.has(name) || !SHARD_NAME.test(name)) continue;
    fs.rmSync(path.join(shardsDir, name), { force: true });
    removed++;
    crashPoint('orphan-removed');
  }
  return removed;
}
