/**
 * The cache's bookkeeping at ImageNet-21k scale (issue 13 item 6): a synthetic cache of N images with tiny
 * embeddings (the rows are not the point; index.jsonl and dataset.jsonl are), then, each in a fresh process so
 * its peak RSS is its own:
 *   open     EmbeddingStore.open for reading (what fit/export/evaluate do first)
 *   resume   open for writing (lock, torn-tail repair, every shard's sha256 and finiteness checked, orphans
 *            removed), then an all-cached re-run of the train split: a has() per listed image, a new listing
 *            written as a stream and committed with the other splits' entries copied over
 *   info     open for reading and count the listing per split (`convfeat cache info`)
 * and the cost of the shard checksum: reading a 64 MiB shard (a compacted 2,048-d shard) with and without
 * hashing it, medians of REPS.
 *
 * Usage: node <compiled>/bench/cache/bookkeeping.js [N=10000000] [DIM=4] [REPS=5] [DIR]
 * (DIR keeps the generated cache between runs; default a temp folder, removed at the end.)
 */
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { fromDist, intArg, machineLine, median, runMain, tempDir } from '../extract/common';

const { EmbeddingStore } = fromDist<typeof import('../../src/cache/store')>('cache/store');
const listing = fromDist<typeof import('../../src/cache/listing')>('cache/listing');
const { writeMeta } = fromDist<typeof import('../../src/cache/meta')>('cache/meta');
const { npyHeader } = fromDist<typeof import('../../src/util/npy')>('util/npy');
const { readShardHeader, readShardRows } = fromDist<typeof import('../../src/cache/shard-file')>('cache/shard-file');

const ROWS_PER_SHARD = 1_000_000;
const CLASSES = 1000;

function identity(dim: number) {
  return { model: 'synthetic', modelFingerprint: 'f'.repeat(64), preprocessFingerprint: 'p', dim };
}

const hashOf = (i: number): string => createHash('sha256').update(`image-${i}`).digest('hex');

/** Appends text to a file through a 4 MiB buffer. */
class Out {
  private parts: string[] = [];
  private size = 0;
  private readonly fd: number;
  constructor(file: string) {
    this.fd = fs.openSync(file, 'w');
  }
  add(text: string): void {
    this.parts.push(text);
    this.size += text.length;
    if (this.size > 4 << 20) this.flush();
  }
  flush(): void {
    fs.writeSync(this.fd, this.parts.join(''));
    this.parts = [];
    this.size = 0;
  }
  close(): void {
    this.flush();
    fs.closeSync(this.fd);
  }
}

function generate(dir: string, n: number, dim: number): void {
  fs.mkdirSync(path.join(dir, 'shards'), { recursive: true });
  writeMeta(dir, identity(dim));
  const index = new Out(path.join(dir, 'index.jsonl'));
  const list = new Out(path.join(dir, 'dataset.jsonl'));
  for (let start = 0, s = 1; start < n; start += ROWS_PER_SHARD, s++) {
    const k = Math.min(ROWS_PER_SHARD, n - start);
    const name = `s${String(s).padStart(6, '0')}.npy`;
    const data = new Float32Array(k * dim);
    for (let i = 0; i < data.length; i++) data[i] = ((i * 2654435761) % 1000) / 1000;
    const bytes = Buffer.concat([npyHeader('<f4', [k, dim]), Buffer.from(data.buffer)]);
    fs.writeFileSync(path.join(dir, 'shards', name), bytes);
    index.add(JSON.stringify({ s: name, n: k, sha256: createHash('sha256').update(bytes).digest('hex') }) + '\n');
    for (let r = 0; r < k; r++) {
      const i = start + r;
      const hash = hashOf(i);
      index.add(`{"h":"${hash}","s":"${name}","r":${r}}\n`);
      const split = i % 10 === 0 ? 'val' : 'train';
      const label = `n${String(i % CLASSES).padStart(8, '0')}`;
      const relPath = `${split}/${label}/${label}_${i}.JPEG`;
      list.add(JSON.stringify({ relPath, path: `/data/imagenet21k/${relPath}`, label, split, hash }) + '\n');
    }
  }
  index.close();
  list.close();
}

/** One phase in this process; prints a JSON line with its result, seconds and peak RSS. */
function phase(name: string, dir: string, dim: number): void {
  const t0 = process.hrtime.bigint();
  let result: Record<string, unknown>;
  if (name === 'open') {
    const store = EmbeddingStore.open(dir);
    result = { rows: store.size };
  } else if (name === 'resume') {
    const store = EmbeddingStore.open(dir, { mode: 'write', identity: identity(dim), warn: () => undefined });
    const writer = new listing.ListingWriter(store.dir, { replaceSplits: ['train'] });
    let cached = 0;
    listing.forEachListed(dir, (e) => {
      if (e.split !== 'train') return;
      if (store.has(e.hash)) cached++;
      writer.add(e);
    });
    writer.commit();
    result = { rows: store.size, cached };
    store.close();
  } else if (name === 'info') {
    const store = EmbeddingStore.open(dir);
    result = { rows: store.size, ...listing.countListing(dir) };
  } else throw new Error(`unknown phase ${name}`);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const peakMiB = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify({ phase: name, seconds, peakMiB, ...result }) + '\n');
}

function checksumCost(reps: number): { plainMs: number; hashedMs: number; ratio: number } {
  const dir = tempDir('convfeat-bench-sum-');
  const dim = 2048;
  const rows = Math.floor((64 << 20) / (dim * 4));
  const file = path.join(dir, 's000001.npy');
  const data = new Float32Array(rows * dim).map((_, i) => Math.sin(i));
  fs.writeFileSync(file, Buffer.concat([npyHeader('<f4', [rows, dim]), Buffer.from(data.buffer)]));
  const header = readShardHeader(file, dim)!;
  const plain: number[] = [];
  const hashed: number[] = [];
  for (let r = 0; r < reps; r++) {
    let t = process.hrtime.bigint();
    readShardRows(file, header, dim, 0, rows);
    plain.push(Number(process.hrtime.bigint() - t) / 1e6);
    t = process.hrtime.bigint();
    const bytes = fs.readFileSync(file); // the verifying read (store.ts readRows): whole file, hashed, rows copied
    createHash('sha256').update(bytes).digest('hex');
    new Float32Array(rows * dim).set(new Float32Array(bytes.buffer, bytes.byteOffset + header.offset, rows * dim));
    hashed.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const plainMs = median(plain);
  const hashedMs = median(hashed);
  return { plainMs, hashedMs, ratio: hashedMs / plainMs };
}

function main(): void {
  if (process.argv[2] === '--phase') return phase(process.argv[3]!, process.argv[4]!, Number(process.argv[5]));
  const n = intArg('N (first argument)', process.argv[2], 10_000_000);
  const dim = intArg('DIM (second argument)', process.argv[3], 4);
  const reps = intArg('REPS (third argument)', process.argv[4], 5);
  const keep = process.argv[5];
  console.log(machineLine());
  const dir = keep ? path.resolve(keep) : tempDir('convfeat-bench-bookkeeping-');
  try {
    if (!fs.existsSync(path.join(dir, 'index.jsonl'))) {
      const t0 = Date.now();
      generate(dir, n, dim);
      console.log(`generated ${n} rows × ${dim} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    }
    const mib = (f: string): string => (fs.statSync(path.join(dir, f)).size / 2 ** 20).toFixed(0);
    console.log(`index.jsonl ${mib('index.jsonl')} MiB, dataset.jsonl ${mib('dataset.jsonl')} MiB`);
    for (const name of ['open', 'resume', 'info']) {
      const r = spawnSync(process.execPath, [__filename, '--phase', name, dir, String(dim)], {
        encoding: 'utf8',
        maxBuffer: 1 << 20,
      });
      if (r.status !== 0) {
        console.log(`${name}: failed (${r.signal ?? r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
        continue;
      }
      const line = JSON.parse(r.stdout.trim().split('\n').pop()!) as { seconds: number; peakMiB: number };
      console.log(
        `${name.padEnd(7)} ${line.seconds.toFixed(1).padStart(6)} s  peak RSS ${line.peakMiB.toFixed(0).padStart(5)} MiB  ${JSON.stringify({ ...line, phase: undefined, seconds: undefined, peakMiB: undefined })}`,
      );
    }
    const sum = checksumCost(reps);
    console.log(
      `checksum: read a 64 MiB shard ${sum.plainMs.toFixed(1)} ms, read + sha256 ${sum.hashedMs.toFixed(1)} ms (×${sum.ratio.toFixed(2)}, medians of ${reps})`,
    );
  } finally {
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main);
