/**
 * The dataset listing of a cache: which image (path, label, split) has which content hash, written as
 * DIR/dataset.jsonl, plus DIR/failures.jsonl (path, reason) for the images that could not be extracted. The store
 * answers "what is the embedding of these bytes"; the listing answers "which images make up the training set".
 *
 * Both files are replaced atomically when an extract run completes, never appended: a killed run leaves the last
 * complete listing in place (its embeddings are safe in the store, and the next run re-lists every image from the
 * cache in seconds). A run limited to some splits replaces only those splits' entries, so extracting train, then
 * val, then test into one cache ends with all three listed.
 */
import * as path from 'path';
import { LineFile } from '../util/lineFile';
import { ConvfeatError } from '../util/errors';
import type { Split } from '../dataset/types';
import { compareCodeUnits, normalizeSplit } from '../dataset/names';
import { isContentHash } from './hash-key';
import { forEachLine } from './lines';

export const LISTING_FILE = 'dataset.jsonl';
export const FAILURES_FILE = 'failures.jsonl';

export interface ListingEntry {
  relPath: string;
  path: string;
  /** base64 of the path's bytes, only when they are not valid UTF-8 (`path` then shows them as \xNN). */
  pathBytes?: string;
  label?: string;
  split?: Split;
  hash: string;
}

export interface FailureEntry {
  path: string;
  reason: string;
  split?: Split;
}

/**
 * Streams the file's entries to onEntry (a listing of millions of images is larger than the longest string V8
 * allows). Returns false when the file does not exist.
 */
function eachLine<T>(
  file: string,
  accept: (value: Record<string, unknown>) => T | undefined,
  onEntry: (entry: T) => void,
): boolean {
  let fromCallback: unknown;
  try {
    return forEachLine(file, (line) => {
      if (line.trim() === '') return;
      let value: unknown;
      try {
        value = JSON.parse(line) as unknown;
      } catch {
        return; // only files written whole are read; a bad line means hand editing, and skipping it is the kind answer
      }
      const entry = value && typeof value === 'object' ? accept(value as Record<string, unknown>) : undefined;
      try {
        if (entry !== undefined) onEntry(entry);
      } catch (e) {
        fromCallback = e;
        throw e;
      }
    });
  } catch (e) {
    if (e === fromCallback) throw e; // e.g. the writer the entries are copied into failed: its own sentence
    throw new ConvfeatError(`Cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'}).`);
  }
}

function parseLines<T>(file: string, accept: (value: Record<string, unknown>) => T | undefined): T[] | undefined {
  const out: T[] = [];
  return eachLine(file, accept, (e) => out.push(e)) ? out : undefined;
}

function toEntry(v: Record<string, unknown>): ListingEntry | undefined {
  if (typeof v.path !== 'string' || typeof v.relPath !== 'string' || !isContentHash(v.hash)) return undefined;
  const e: ListingEntry = { relPath: v.relPath, path: v.path, hash: v.hash };
  if (typeof v.pathBytes === 'string') e.pathBytes = v.pathBytes;
  if (typeof v.label === 'string') e.label = v.label;
  const split = typeof v.split === 'string' ? normalizeSplit(v.split) : undefined;
  if (split) e.split = split;
  return e;
}

function toFailure(v: Record<string, unknown>): FailureEntry | undefined {
  if (typeof v.path !== 'string' || typeof v.reason !== 'string') return undefined;
  const f: FailureEntry = { path: v.path, reason: v.reason };
  const split = typeof v.split === 'string' ? normalizeSplit(v.split) : undefined;
  if (split) f.split = split;
  return f;
}

/** The listing of the last completed run, or undefined when no run has completed yet. */
export function readListing(dir: string): ListingEntry[] | undefined {
  return parseLines(path.join(dir, LISTING_FILE), toEntry);
}

export function readFailures(dir: string): FailureEntry[] {
  return parseLines(path.join(dir, FAILURES_FILE), toFailure) ?? [];
}

/** Streams the listing's entries without holding them; false when no run has completed yet. */
export function forEachListed(dir: string, onEntry: (entry: ListingEntry) => void): boolean {
  return eachLine(path.join(dir, LISTING_FILE), toEntry, onEntry);
}

/** Streams failures.jsonl. */
export function forEachFailure(dir: string, onEntry: (entry: FailureEntry) => void): boolean {
  return eachLine(path.join(dir, FAILURES_FILE), toFailure, onEntry);
}

/** How many images the listing holds per split ('none' for images without one), read as a stream. */
export function countListing(dir: string): { listed: number; splits: Record<string, number> } {
  const splits: Record<string, number> = {};
  let listed = 0;
  forEachListed(dir, (e) => {
    listed++;
    const key = e.split ?? 'none';
    splits[key] = (splits[key] ?? 0) + 1;
  });
  return { listed, splits };
}

/** Sorted labels of a whole listing: class ids stay the same whichever split is loaded. */
export function listingClasses(entries: readonly ListingEntry[]): string[] {
  const labels = new Set<string>();
  for (const e of entries) if (e.label !== undefined) labels.add(e.label);
  return [...labels].sort(compareCodeUnits);
}

export interface ListingWriterOptions {
  /**
   * The splits this run covers. Entries of other splits in the current listing are kept on commit; without this
   * option the run replaces the whole listing.
   */
  replaceSplits?: readonly Split[];
}

/**
 * Writes the listing and failures of one extract run. Call it while holding the cache open for writing (the lock
 * keeps two runs from interleaving their listings), add entries in dataset order, and commit at the end.
 */
export class ListingWriter {
  private readonly listing: LineFile;
  private readonly failures: LineFile;
  private done = false;

  constructor(
    readonly dir: string,
    private readonly opts: ListingWriterOptions = {},
  ) {
    this.listing = new LineFile(path.join(dir, LISTING_FILE));
    try {
      this.failures = new LineFile(path.join(dir, FAILURES_FILE));
    } catch (e) {
      this.listing.abort();
      throw e;
    }
  }

  add(entry: ListingEntry): void {
    if (!isContentHash(entry.hash))
      throw new ConvfeatError(`Listing entry ${entry.relPath} has no valid content hash.`);
    this.listing.add(entry);
  }

  addFailure(failure: FailureEntry): void {
    this.failures.add(failure);
  }

  commit(): void {
    if (this.done) return;
    const keep = this.opts.replaceSplits;
    if (keep) {
      const covered = new Set<Split>(keep);
      // Streamed: the entries of the other splits are copied line by line, never held together.
      forEachListed(this.dir, (e) => e.split && !covered.has(e.split) && this.listing.add(e));
      forEachFailure(this.dir, (f) => f.split && !covered.has(f.split) && this.failures.add(f));
    }
    this.failures.commit();
    this.listing.commit();
    this.done = true;
  }

  /** Drops what this run wrote; the previous listing stays. */
  abort(): void {
    if (this.done) return;
    this.listing.abort();
    this.failures.abort();
    this.done = true;
  }
}
