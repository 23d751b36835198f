/**
 * Extraction's plan: what to do with each image once its bytes are read and hashed. An unreadable file fails; an
 * image of another `--shard` is left to that shard; bytes already in the store are served from it; bytes identical
 * to an image still in flight wait for that image's row; anything else is computed. The plan remembers the hashes in
 * flight and those stored in this run, so a duplicate file is told apart from a cache hit of a previous run.
 */
import * as path from 'path';
import { sha256Hex } from '../util/hash';
import type { Dataset, DatasetItem, Split } from '../dataset/types';
import { normalizeSplit } from '../dataset/names';
import type { FailureEntry } from './listing';
import { readReason, type ReadResult } from './readAhead';

export type Step =
  | { kind: 'unreadable'; item: DatasetItem; reason: string }
  | { kind: 'other-shard'; item: DatasetItem }
  /** In the store: `duplicate` when it was stored earlier in this very run (same bytes as another file). */
  | { kind: 'cached'; item: DatasetItem; hash: string; duplicate: boolean }
  /** Same bytes as an image in flight: its row will serve both, listed once that row is stored. */
  | { kind: 'twin'; item: DatasetItem; hash: string }
  | { kind: 'compute'; item: DatasetItem; hash: string; bytes: Buffer };

export class ExtractPlan {
  /** Hashes submitted in this run and not yet stored, with later items of identical bytes: computed once. */
  private readonly inFlight = new Map<string, DatasetItem[]>();
  private readonly storedThisRun = new Set<string>();

  constructor(
    private readonly stored: (hash: string) => boolean,
    private readonly inShard: (hash: string) => boolean,
  ) {}

  classify(read: ReadResult): Step {
    const item = read.item;
    if (read.error !== undefined) return { kind: 'unreadable', item, reason: readReason(read.error) };
    const bytes = read.bytes!;
    const hash = sha256Hex(bytes);
    // A stored row is listed whatever its shard: shard runs one after another into one cache keep each other's
    // images in the listing.
    const stored = this.stored(hash);
    if (!stored && !this.inShard(hash)) return { kind: 'other-shard', item };
    if (stored) return { kind: 'cached', item, hash, duplicate: this.storedThisRun.has(hash) };
    const twins = this.inFlight.get(hash);
    if (twins) {
      twins.push(item);
      return { kind: 'twin', item, hash };
    }
    this.inFlight.set(hash, []);
    return { kind: 'compute', item, hash, bytes };
  }

  /** The image of `hash` left the pipeline (its row stored, or it failed): returns the twins that waited for it. */
  settle(hash: string, stored: boolean): DatasetItem[] {
    const twins = this.inFlight.get(hash) ?? [];
    this.inFlight.delete(hash);
    if (stored) this.storedThisRun.add(hash);
    return twins;
  }
}

/**
 * The dataset scan's problems that belong to this run, as failures: a problem belongs to the split whose folder
 * holds it, so a run over some splits does not report the others'.
 */
export function scanProblemFailures(dataset: Dataset, splits: readonly Split[] | undefined): FailureEntry[] {
  const failures: FailureEntry[] = [];
  for (const problem of dataset.problems) {
    const top = path.relative(dataset.root, problem.path).split(path.sep)[0] ?? '';
    const split = dataset.kind === 'imagefolder-splits' ? normalizeSplit(top) : undefined;
    if (splits && split && !splits.includes(split)) continue;
    failures.push({ path: problem.path, reason: problem.reason, ...(split ? { split } : {}) });
  }
  return failures;
}
