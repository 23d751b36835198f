/**
 * Opening a cache's files into an EmbeddingStore's lookup (store.ts): streaming index.jsonl into the row table,
 * and the repairs only a writer makes on open, holding the lock so the files' owner is dead — dropping damaged
 * shards and non-finite rows (scan.ts) so they are recomputed, and deleting shard files no index line uses. Kept
 * apart from the store so that reading rows, writing batches and this recovery each stay one job.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ConvfeatError } from '../util/errors';
import { param } from '../util/params';
import { parseIndexLine, SHARD_NAME } from './index-file';
import { forEachLine } from './lines';
import type { WarningSink } from './lock';
import { META_FILE } from './meta';
import { isLeftoverTemp, removeUnusedShards } from './recovery';
import { hexOf, keyOf, RowTable } from './row-table';
import { scanShards } from './scan';
import { readShardHeader, ShardHeader } from './shard-file';

export const INDEX_FILE = 'index.jsonl';
export const SHARDS_DIR = 'shards';

export interface ShardInfo {
  name: string;
  header: ShardHeader;
  /** sha256 of the whole file as recorded in the index; undefined for shards written before checksums. */
  sha256: string | undefined;
  verified: boolean;
}

/** A shard's entry; one without a recorded sha256 has nothing to verify. */
export function shardInfo(name: string, header: ShardHeader, sha256: string | undefined, verified: boolean): ShardInfo {
  return { name, header, sha256, verified: verified || sha256 === undefined };
}

/** A new cache goes into an empty directory (or one a killed first run left with nothing but temp files). */
export function assertFreshDirectory(root: string, shown: string): void {
  const entries = fs.readdirSync(root).filter((n) => n !== 'lock' && !isLeftoverTemp(n));
  const shards = entries.includes(SHARDS_DIR) ? fs.readdirSync(path.join(root, SHARDS_DIR)) : [];
  const meaningful = entries.filter((n) => n !== SHARDS_DIR);
  if (meaningful.length > 0 || shards.some((n) => !isLeftoverTemp(n) && !SHARD_NAME.test(n))) {
    throw new ConvfeatError(
      `${shown} is not empty and is not a convfeat cache (no ${META_FILE}); choose a new or empty ${param('cacheDir')} directory.`,
    );
  }
}

/**
 * Streams index.jsonl into `table` (cleared first): each hash's first line that points at an existing row of a
 * valid shard (index-file.ts). Appends the shards those lines use to `shards` (empty on entry) and returns the
 * sequence number of the next new shard.
 */
export function loadIndex(dir: string, dim: number, table: RowTable, shards: ShardInfo[]): number {
  table.clear();
  const shardByName = new Map<string, number | null>();
  const sums = new Map<string, string>();
  let maxSeq = 0;
  const file = path.join(dir, INDEX_FILE);
  try {
    const seen = (name: string): void => {
      maxSeq = Math.max(maxSeq, Number(SHARD_NAME.exec(name)![1]));
    };
    const onLine = (text: string, complete: boolean): void => {
      if (!complete) return; // torn by a crash mid-append (or being appended this instant)
      const line = parseIndexLine(text);
      if (!line) return;
      if (line.kind === 'shard') {
        seen(line.shard);
        sums.set(line.shard, line.sha256);
        return;
      }
      let shard = shardByName.get(line.shard);
      if (shard === undefined) {
        seen(line.shard);
        const header = readShardHeader(path.join(dir, SHARDS_DIR, line.shard), dim);
        shard = header ? shards.push(shardInfo(line.shard, header, sums.get(line.shard), false)) - 1 : null;
        shardByName.set(line.shard, shard);
      }
      if (shard === null || line.row >= shards[shard]!.header.rows) return;
      const key = keyOf(line.hash);
      if (!line.replaces && table.hasKey(key)) return; // the first usable line of a hash wins
      table.set(key, shard, line.row);
    };
    forEachLine(file, onLine, undefined, 'latin1'); // index.jsonl is ASCII: convfeat writes every line
  } catch (e) {
    if (e instanceof ConvfeatError) throw e;
    throw new ConvfeatError(`Cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'}).`);
  }
  try {
    for (const name of fs.readdirSync(path.join(dir, SHARDS_DIR))) {
      const m = SHARD_NAME.exec(name);
      if (m) maxSeq = Math.max(maxSeq, Number(m[1]));
    }
  } catch {
    // no shards folder yet: a cache with no rows
  }
  return maxSeq + 1;
}

/**
 * Drops damaged shards (deleted, so no reader trusts their lines) and non-finite rows from `table`; warns once for
 * each. Returns the hashes whose row was dropped though its shard is sound: their new line replaces the old one.
 */
export function dropUnusable(
  dir: string,
  dim: number,
  shards: ShardInfo[],
  table: RowTable,
  warn: WarningSink,
): string[] {
  const { ids, shardOf, rowOf } = table;
  const result = scanShards(dir, SHARDS_DIR, dim, shards, ids, shardOf, rowOf);
  for (const s of result.damagedShards) {
    fs.rmSync(path.join(dir, SHARDS_DIR, shards[s]!.name), { force: true });
    warn(
      `the cache shard ${SHARDS_DIR}/${shards[s]!.name} was damaged (sha256 mismatch); it was removed and its rows will be recomputed.`,
    );
  }
  const replaced: string[] = [];
  for (const key of result.droppedKeys) if (!result.damagedKeys.has(key)) replaced.push(hexOf(key));
  if (result.nonFinite > 0)
    warn(`${result.nonFinite} cached embedding(s) held NaN or infinite values; they will be recomputed by this run.`);
  table.deleteAll(result.droppedKeys);
  return replaced;
}

/**
 * Removes shard files no index line uses: written by a run killed before its index append, or superseded by a
 * compaction killed before it deleted them. Only a writer calls this, holding the lock, so their owner is dead.
 */
export function removeOrphanShards(dir: string, shards: readonly ShardInfo[], table: RowTable): number {
  const live = new Set<string>();
  const { shardOf } = table;
  for (const id of table.ids.values()) live.add(shards[shardOf[id]!]!.name);
  return removeUnusedShards(path.join(dir, SHARDS_DIR), live);
}
