/**
 * `convfeat cache merge`: unions caches of one embedding space (same model, preprocessing and dim) into a target,
 * e.g. the parts written by `--shard i/n` on n machines. Rows are deduplicated by content hash, one source shard
 * at a time (memory stays at one shard); listings are united, the first entry for an image path winning; a failure
 * is dropped when another cache extracted that image.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomicSync } from '../util/atomic';
import { ConvfeatError } from '../util/errors';
import { invalid, nonEmptyString } from '../util/validate';
import { FAILURES_FILE, FailureEntry, LISTING_FILE, ListingEntry, readFailures, readListing } from './listing';
import type { WarningSink } from './lock';
import { sameSpace } from './meta';
import { EmbeddingStore } from './store';
import { param } from '../util/params';

export interface MergeResult {
  /** Rows new to the target. */
  added: number;
  /** Rows skipped because the target already had their hash. */
  duplicates: number;
  /** Rows in the target afterwards. */
  rows: number;
  listed: number;
  failures: number;
}

function realOrResolved(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

export function mergeCaches(
  sources: readonly string[],
  target: string,
  opts: { warn?: WarningSink } = {},
): MergeResult {
  if (!Array.isArray(sources) || sources.length === 0)
    throw invalid('sources', 'a non-empty list of cache directories', sources);
  sources.forEach((s, i) => nonEmptyString(`sources[${i}]`, s));
  nonEmptyString(param('cacheDir'), target);
  const targetReal = realOrResolved(target);
  const clash = sources.find((s) => realOrResolved(s) === targetReal);
  if (clash !== undefined)
    throw new ConvfeatError(
      `The merge target ${target} is also a source (${clash}); name a different target directory.`,
    );

  const readers = sources.map((s) => EmbeddingStore.open(s, { mode: 'read' }));
  const first = readers[0]!;
  for (let i = 1; i < readers.length; i++) {
    if (!sameSpace(first.meta, readers[i]!.meta)) {
      const other = readers[i]!.meta;
      throw new ConvfeatError(
        `Cannot merge ${sources[i]} (model ${other.model}, ${other.dim}-d) into caches of model ${first.meta.model} (${first.meta.dim}-d): ` +
          'caches made with different models or preprocessing hold different embedding spaces.',
      );
    }
  }
  const { model, modelFingerprint, preprocessFingerprint, dim } = first.meta;
  const store = EmbeddingStore.open(target, {
    mode: 'write',
    identity: { model, modelFingerprint, preprocessFingerprint, dim },
    warn: opts.warn,
  });
  try {
    let added = 0;
    let duplicates = 0;
    for (const reader of readers) {
      for (const shard of reader.shards()) {
        const n = store.putBatch(shard.hashes, shard.rows);
        added += n;
        duplicates += shard.hashes.length - n;
      }
    }

    const listing: ListingEntry[] = [];
    const listedPaths = new Set<string>();
    for (const dir of [store.dir, ...readers.map((r) => r.dir)]) {
      for (const e of readListing(dir) ?? []) {
        if (listedPaths.has(e.path)) continue;
        listedPaths.add(e.path);
        listing.push(e);
      }
    }
    const failures: FailureEntry[] = [];
    const failedPaths = new Set<string>();
    for (const dir of [store.dir, ...readers.map((r) => r.dir)]) {
      for (const f of readFailures(dir)) {
        if (listedPaths.has(f.path) || failedPaths.has(f.path)) continue;
        failedPaths.add(f.path);
        failures.push(f);
      }
    }
    const lines = (values: object[]): string => values.map((v) => JSON.stringify(v) + '\n').join('');
    writeFileAtomicSync(path.join(store.dir, FAILURES_FILE), lines(failures));
    writeFileAtomicSync(path.join(store.dir, LISTING_FILE), lines(listing));
    return { added, duplicates, rows: store.size, listed: listing.length, failures: failures.length };
  } finally {
    store.close();
    readers.forEach((r) => r.close());
  }
}
