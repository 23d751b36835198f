// Appends batches of deterministic embeddings to a cache until it is killed (or has written `total` images).
// argv: storeModule cacheDir batchSize total [compact]. Prints the number of images known durable after each batch;
// with "compact", compacts the store after the last batch and prints "compacted".
'use strict';
const { createHash } = require('crypto');
const [storeModule, cacheDir, batchSizeText, totalText, then] = process.argv.slice(2);
const { EmbeddingStore } = require(storeModule);

const DIM = 64;
const hashOf = (k) => createHash('sha256').update(`img-${k}`).digest('hex');
// Same numbers as rowFor in rows.ts.
function rowFor(hash) {
  const seed = Number.parseInt(hash.slice(0, 8), 16);
  const row = new Float32Array(DIM);
  for (let j = 0; j < DIM; j++) row[j] = (((seed % 100003) * (j + 1)) % 9973) / 97 - 50;
  return row;
}

const identity = { model: 'tiny', modelFingerprint: 'a'.repeat(64), preprocessFingerprint: 'p0', dim: DIM };
const store = EmbeddingStore.open(cacheDir, { mode: 'write', identity, warn: (m) => process.stderr.write(m + '\n') });
const batchSize = Number(batchSizeText);
const total = Number(totalText);
for (let start = 0; start < total; start += batchSize) {
  const hashes = [];
  for (let k = start; k < Math.min(total, start + batchSize); k++) hashes.push(hashOf(k));
  const rows = new Float32Array(hashes.length * DIM);
  hashes.forEach((h, i) => rows.set(rowFor(h), i * DIM));
  store.putBatch(hashes, rows);
  process.stdout.write(`${start + hashes.length}\n`);
}
if (then === 'compact') {
  store.compact();
  process.stdout.write('compacted\n');
}
// No close(): the lock must also go away through the process 'exit' hook.
