/**
 * Damage after the fact: every shard's sha256 is recorded in the index and checked on read, so a bit flip or two
 * swapped shard files are one sentence naming the shard, never silently wrong numbers; the next writer drops such
 * a shard and a NaN row so that extract recomputes them.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createHash } from 'crypto';
import { openBackbone, prepareBackbone } from '../../src/backbone/load';
import { extractDataset, loadSplit } from '../../src/cache';
import { EmbeddingStore, INDEX_FILE, SHARDS_DIR } from '../../src/cache/store';
import { scanDataset } from '../../src/dataset';
import { ConvfeatError } from '../../src/util/errors';
import { photos, tmpDir } from '../support/data';
import { writeTinyBackbone } from '../support/tinyBackbone';
import { hashOf, IDENTITY, rowsFor } from './support/rows';

const D = IDENTITY.dim;
const keys = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => hashOf(from + i));
const shardFile = (dir: string, n: number): string => path.join(dir, SHARDS_DIR, `s${String(n).padStart(6, '0')}.npy`);

function fill(dir: string, batches: string[][], rows = (b: string[]) => rowsFor(b, D)): void {
  const store = EmbeddingStore.open(dir, { mode: 'write', identity: IDENTITY });
  for (const b of batches) store.putBatch(b, rows(b));
  store.close();
}

function flipBit(file: string, fromEnd: number): void {
  const bytes = fs.readFileSync(file);
  bytes[bytes.length - fromEnd]! ^= 0x01;
  fs.writeFileSync(file, bytes);
}

const damagedMessage = (dir: string, shard: string): string =>
  `The cache ${dir} has a damaged shard ${SHARDS_DIR}/${shard} (its sha256 does not match the one in ${INDEX_FILE}: ` +
  'the file was changed, swapped or corrupted on disk); run convfeat extract again with this --cache: it drops that shard and recomputes its rows.';

describe('shard checksums', () => {
  test('a bit flip is refused on read with a sentence naming the shard; the next writer drops it and its rows are recomputed', () => {
    const dir = tmpDir('sum-flip');
    fill(dir, [keys(0, 3), keys(3, 6)]);
    flipBit(shardFile(dir, 2), 5); // one bit of the last row's numbers
    const reader = EmbeddingStore.open(dir);
    expect(reader.gather(keys(0, 3))).toEqual(rowsFor(keys(0, 3), D)); // the intact shard still reads
    expect(() => reader.gather(keys(0, 6))).toThrow(new ConvfeatError(damagedMessage(dir, 's000002.npy')));
    expect(() => reader.get(hashOf(3))).toThrow(/damaged shard shards\/s000002\.npy/);

    const warnings: string[] = [];
    const writer = EmbeddingStore.open(dir, { mode: 'write', identity: IDENTITY, warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([
      'the cache shard shards/s000002.npy was damaged (sha256 mismatch); it was removed and its rows will be recomputed.',
    ]);
    expect(keys(0, 6).map((h) => writer.has(h))).toEqual([true, true, true, false, false, false]);
    expect(fs.existsSync(shardFile(dir, 2))).toBe(false);
    expect(writer.putBatch(keys(3, 6), rowsFor(keys(3, 6), D))).toBe(3); // what extract does next
    writer.close();
    expect(EmbeddingStore.open(dir).gather(keys(0, 6))).toEqual(rowsFor(keys(0, 6), D));
  });

  test('two shard files of the same shape swapped are caught (each shard’s checksum is tied to its name)', () => {
    const dir = tmpDir('sum-swap');
    fill(dir, [keys(0, 4), keys(4, 8)]);
    const [a, b] = [shardFile(dir, 1), shardFile(dir, 2)];
    fs.renameSync(a, `${a}.x`);
    fs.renameSync(b, a);
    fs.renameSync(`${a}.x`, b);
    expect(() => EmbeddingStore.open(dir).gather(keys(0, 8))).toThrow(/damaged shard shards\/s00000[12]\.npy/);
  });

  test('caches written before checksums (no shard records) still read', () => {
    const dir = tmpDir('sum-legacy');
    fill(dir, [keys(0, 3)]);
    const index = path.join(dir, INDEX_FILE);
    const rowsOnly = fs
      .readFileSync(index, 'utf8')
      .split('\n')
      .filter((l) => !l.includes('sha256'))
      .join('\n');
    fs.writeFileSync(index, rowsOnly);
    expect(EmbeddingStore.open(dir).gather(keys(0, 3))).toEqual(rowsFor(keys(0, 3), D));
    const writer = EmbeddingStore.open(dir, { mode: 'write', identity: IDENTITY });
    expect(writer.size).toBe(3);
    writer.close();
  });
});

describe('non-finite embeddings', () => {
  test('a NaN row is dropped by the next writer, and its recomputed row replaces it for every reader', () => {
    const dir = tmpDir('nan-row');
    const withNaN = (b: string[]): Float32Array => {
      const rows = rowsFor(b, D);
      if (b.includes(hashOf(1))) rows[1 * D + 2] = NaN;
      return rows;
    };
    fill(dir, [keys(0, 3)], withNaN);
    expect(Number.isNaN(EmbeddingStore.open(dir).get(hashOf(1))![2])).toBe(true); // readers serve what is stored
    const warnings: string[] = [];
    const writer = EmbeddingStore.open(dir, { mode: 'write', identity: IDENTITY, warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([
      '1 cached embedding(s) held NaN or infinite values; they will be recomputed by this run.',
    ]);
    expect(keys(0, 3).map((h) => writer.has(h))).toEqual([true, false, true]);
    expect(writer.putBatch(keys(0, 3), rowsFor(keys(0, 3), D))).toBe(1);
    writer.close();
    expect(EmbeddingStore.open(dir).gather(keys(0, 3))).toEqual(rowsFor(keys(0, 3), D));
    const again = EmbeddingStore.open(dir, { mode: 'write', identity: IDENTITY, warn: (m) => warnings.push(m) });
    expect(again.size).toBe(3);
    expect(warnings).toHaveLength(1);
    expect(again.compact().shardsAfter).toBe(1);
    again.close();
    expect(EmbeddingStore.open(dir).gather(keys(0, 3))).toEqual(rowsFor(keys(0, 3), D));
  });

  test('extract recomputes a cached NaN embedding instead of serving it as cached', async () => {
    const work = tmpDir('nan-extract');
    const root = path.join(work, 'data');
    for (const cls of ['airplane', 'car']) {
      fs.mkdirSync(path.join(root, cls), { recursive: true });
      for (const p of photos('train', cls, 2)) fs.copyFileSync(p, path.join(root, cls, path.basename(p)));
    }
    const backbone = await openBackbone(await prepareBackbone({ model: writeTinyBackbone(work) }), {
      device: 'cpu',
      threads: 1,
    });
    try {
      const cacheDir = path.join(work, 'cache');
      const dataset = await scanDataset(root);
      expect((await extractDataset(dataset, backbone, { cacheDir, workers: 0 })).extracted).toBe(4);
      const good = loadSplit(cacheDir).X;
      // As if the model had produced a NaN for the first image: the shard is rewritten whole, checksum and all.
      const file = shardFile(cacheDir, 1);
      const bytes = fs.readFileSync(file);
      bytes.writeFloatLE(NaN, bytes.length - good.length * 4);
      fs.writeFileSync(file, bytes);
      const index = path.join(cacheDir, INDEX_FILE);
      const sha = createHash('sha256').update(bytes).digest('hex');
      fs.writeFileSync(index, fs.readFileSync(index, 'utf8').replace(/"sha256":"[0-9a-f]{64}"/, `"sha256":"${sha}"`));
      expect(loadSplit(cacheDir).X.some(Number.isNaN)).toBe(true);
      const warnings: string[] = [];
      const again = await extractDataset(dataset, backbone, { cacheDir, workers: 0, warn: (m) => warnings.push(m) });
      expect(again).toMatchObject({ extracted: 1, fromCache: 3 });
      expect(warnings.join('\n')).toMatch(/1 cached embedding\(s\) held NaN/);
      expect(loadSplit(cacheDir).X).toEqual(good);
    } finally {
      await backbone.close();
    }
  });
});
