/**
 * Caches of millions of images: index.jsonl and dataset.jsonl are read as streams of lines, never as one string
 * (V8 refuses strings past 512 MiB: ERR_STRING_TOO_LONG at ~5 M index rows). The 10 M-image figures are in
 * bench/README.md (bench/cache/bookkeeping.ts); here the reader is checked on chunks far smaller than its lines,
 * and the store and listing on a file that must not be read whole.
 */
import * as fs from 'fs';
import * as path from 'path';
import realFs = require('fs');
import { countListing, ListingEntry, ListingWriter, readListing } from '../../src/cache/listing';
import { forEachLine } from '../../src/cache/lines';
import { EmbeddingStore, INDEX_FILE } from '../../src/cache/store';
import { tmpDir } from '../support/data';
import { hashOf, IDENTITY, rowsFor } from './support/rows';

const D = IDENTITY.dim;

describe('forEachLine', () => {
  test('gives every line whatever the chunk size: lines across chunks, multi-byte characters, a long line, no final newline', () => {
    const file = path.join(tmpDir('lines'), 'mixed.txt');
    const lines = ['', 'ab', 'é😀 naïve ünïcödé', 'x'.repeat(100), '', 'last without newline'];
    fs.writeFileSync(file, lines.join('\n'));
    for (const chunk of [1, 3, 7, 64, 1 << 20]) {
      const seen: Array<[string, boolean]> = [];
      expect(forEachLine(file, (l, complete) => seen.push([l, complete]), chunk)).toBe(true);
      expect(seen).toEqual(lines.map((l, i) => [l, i < lines.length - 1]));
    }
    expect(forEachLine(path.join(path.dirname(file), 'missing'), () => undefined)).toBe(false);
  });
});

describe('a cache is never read as one string', () => {
  test('open, resume, compact, list and count with readFileSync forbidden on index.jsonl and dataset.jsonl', () => {
    const dir = tmpDir('stream-cache');
    const N = 20_000;
    const hashes = Array.from({ length: N }, (_, i) => hashOf(`stream-${i}`));
    const entries: ListingEntry[] = hashes.map((hash, i) => ({
      relPath: `c${i % 7}/${i}.jpg`,
      path: `/data/${i % 2 ? 'val' : 'train'}/c${i % 7}/${i}.jpg`,
      label: `c${i % 7}`,
      split: i % 2 ? 'val' : 'train',
      hash,
    }));
    const realRead = realFs.readFileSync;
    const readWhole = jest.spyOn(realFs, 'readFileSync').mockImplementation(((
      file: fs.PathOrFileDescriptor,
      ...rest: unknown[]
    ) => {
      if (typeof file === 'string' && /(index|dataset|failures)\.jsonl$/.test(file))
        throw new Error(`${path.basename(file)} was read whole`);
      return (realRead as (...a: unknown[]) => unknown)(file, ...rest);
    }) as typeof fs.readFileSync);
    try {
      const store = EmbeddingStore.open(dir, { mode: 'write', identity: IDENTITY });
      for (let b = 0; b < N; b += 2_000)
        store.putBatch(hashes.slice(b, b + 2_000), rowsFor(hashes.slice(b, b + 2_000), D));
      const all = new ListingWriter(dir);
      entries.forEach((e) => all.add(e));
      all.commit();
      store.close();

      const resumed = EmbeddingStore.open(dir, { mode: 'write', identity: IDENTITY });
      expect(resumed.size).toBe(N);
      // a train-only run keeps the val entries of the old listing (copied as a stream)
      const trainOnly = new ListingWriter(dir, { replaceSplits: ['train'] });
      entries.filter((e) => e.split === 'train').forEach((e) => trainOnly.add(e));
      trainOnly.commit();
      expect(resumed.compact()).toMatchObject({ shardsBefore: 10, shardsAfter: 1 });
      resumed.close();

      const reader = EmbeddingStore.open(dir);
      expect(reader.size).toBe(N);
      expect(reader.gather(hashes.slice(-3))).toEqual(rowsFor(hashes.slice(-3), D));
      expect(countListing(dir)).toEqual({ listed: N, splits: { train: N / 2, val: N / 2 } });
      expect(readListing(dir)).toHaveLength(N);
    } finally {
      readWhole.mockRestore();
    }
    expect(fs.statSync(path.join(dir, INDEX_FILE)).size).toBeGreaterThan(N * 90);
  });
});
