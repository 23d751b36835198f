/**
 * Extraction writes each batch's shard and index lines in a write thread (cache/batch-writer.ts) so their fsyncs
 * overlap the next inference. The write protocol must stay what the crash tests prove for EmbeddingStore.putBatch:
 * a process killed at any step of a batch written in that thread (CONVFEAT_CRASH_AT reaches the thread, whose
 * SIGKILL stops the whole process) keeps every earlier batch, shows no half-written row, and the next run completes
 * the cache with rows identical to an uninterrupted run's.
 */
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { EmbeddingStore } from '../../src/cache/store';
import { readListing } from '../../src/cache';
import { BatchWriter } from '../../src/cache/batch-writer';
import { photos, REPO_ROOT, tmpDir } from '../support/data';
import { writeTinyBackbone } from '../support/tinyBackbone';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const work = tmpDir('write-thread');
const model = writeTinyBackbone(work);
const data = path.join(work, 'data');
for (const cls of ['airplane', 'car']) {
  fs.mkdirSync(path.join(data, cls), { recursive: true });
  for (const p of photos('train', cls, 10)) fs.copyFileSync(p, path.join(data, cls, path.basename(p)));
}
const BATCH = 4;

function extract(cache: string, crashAt?: string) {
  const env = { ...process.env };
  delete env.CONVFEAT_CRASH_AT;
  if (crashAt) env.CONVFEAT_CRASH_AT = crashAt;
  const args = ['extract', '--model', model, '--data', data, '--cache', cache, '--batch-size', String(BATCH)];
  return spawnSync(process.execPath, [CLI, ...args, '--threads', '1', '--quiet'], { env, encoding: 'utf8' });
}

function rowsByHash(cache: string): Map<string, Float32Array> {
  const store = EmbeddingStore.open(cache, { mode: 'read' });
  try {
    return new Map((readListing(cache) ?? []).map((e) => [e.hash, store.get(e.hash)!]));
  } finally {
    store.close();
  }
}

describe('batches written in the write thread', () => {
  const clean = path.join(work, 'clean');
  let reference: Map<string, Float32Array>;
  beforeAll(() => {
    const r = extract(clean);
    expect(r.status).toBe(0);
    reference = rowsByHash(clean);
    expect(reference.size).toBe(20);
  });

  test('the writes run in the thread and give the shard checksum the file has', async () => {
    const dir = path.join(work, 'unit');
    fs.mkdirSync(dir);
    const writer = new BatchWriter();
    const body = new Uint8Array(Float32Array.from([1, 2, 3, 4]).buffer);
    const header = new Uint8Array([9, 9]);
    const files = {
      name: 's000000.npy',
      shardFile: path.join(dir, 's000000.npy'),
      indexFile: path.join(dir, 'index.jsonl'),
      rows: 1,
      header,
      body,
      rowLines: 'row\n',
    };
    try {
      const sha = await writer.write(files);
      expect(writer.threaded).toBe(true);
      expect(sha).toBe(createHash('sha256').update(fs.readFileSync(files.shardFile)).digest('hex'));
      expect(fs.readFileSync(files.shardFile)).toEqual(Buffer.concat([header, body]));
      expect(fs.readFileSync(files.indexFile, 'utf8')).toMatch(new RegExp(`${sha}[\\s\\S]*\\nrow\\n$`));
      // A write that fails (its folder is gone) rejects with the store's one-sentence error, and the thread lives on.
      await expect(writer.write({ ...files, shardFile: path.join(dir, 'gone', 'x.npy') })).rejects.toThrow(/x\.npy/);
      expect(writer.threaded).toBe(true);
    } finally {
      await writer.close();
    }
  });

  test.each(['shard-written', 'shard-fsynced', 'shard-renamed', 'index-written', 'index-fsynced'])(
    'a kill at %s of the third batch keeps the first two, and the next run completes the cache',
    (point) => {
      const cache = path.join(work, `crash-${point}`);
      const crashed = extract(cache, `${point}:3`);
      expect(crashed.signal).toBe('SIGKILL');
      const store = EmbeddingStore.open(cache, { mode: 'read' });
      try {
        // Two batches are durable; the third is there only once its index lines are (index-fsynced: written).
        expect(store.size).toBe(point.startsWith('index') ? 3 * BATCH : 2 * BATCH);
        for (const [hash, row] of reference) if (store.has(hash)) expect(store.get(hash)).toEqual(row);
      } finally {
        store.close();
      }
      const resumed = extract(cache);
      expect(resumed.status).toBe(0);
      const rows = rowsByHash(cache);
      expect(rows.size).toBe(reference.size);
      for (const [hash, row] of reference) expect(rows.get(hash)).toEqual(row);
    },
  );
});
