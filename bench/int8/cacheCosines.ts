/**
 * Per split, the cosine between the embeddings two caches hold for the same photos (matched by content hash): how
 * close int8 embeddings are to fp32 ones. Used by bench.ts (`cosine`) and fashion.ts.
 */
import { fromDist } from '../extract/common';
import type * as Cache from '../../src/cache';
import type * as Embeddings from '../../src/util/embeddings';

export interface SplitCosines {
  images: number;
  mean: number;
  min: number;
  below099: number;
}

export function cacheCosines(a: string, b: string, splits = ['train', 'val', 'test']): Record<string, SplitCosines> {
  const { loadSplit } = fromDist<typeof Cache>('cache/index');
  const { rowCosines } = fromDist<typeof Embeddings>('util/embeddings');
  const out: Record<string, SplitCosines> = {};
  for (const split of splits) {
    const x = loadSplit(a, split);
    const y = loadSplit(b, split);
    const rowOf = new Map(y.hashes.map((h, i) => [h, i]));
    const d = x.dim;
    const pairs: Array<[number, number]> = [];
    x.hashes.forEach((h, i) => {
      const j = rowOf.get(h);
      if (j !== undefined) pairs.push([i, j]);
    });
    const pa = new Float32Array(pairs.length * d);
    const pb = new Float32Array(pairs.length * d);
    pairs.forEach(([i, j], k) => {
      pa.set(x.X.subarray(i * d, (i + 1) * d), k * d);
      pb.set(y.X.subarray(j * d, (j + 1) * d), k * d);
    });
    const cos = rowCosines(pa, pb, pairs.length);
    let sum = 0;
    let min = Infinity;
    let below = 0;
    for (const c of cos) {
      sum += c;
      min = Math.min(min, c);
      if (c < 0.99) below++;
    }
    out[split] = { images: pairs.length, mean: sum / pairs.length, min, below099: below };
    console.log(
      `${split}: ${pairs.length} photos, cosine mean ${(sum / pairs.length).toFixed(4)}, min ${min.toFixed(4)}`,
    );
  }
  return out;
}
