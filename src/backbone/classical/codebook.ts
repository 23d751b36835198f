/**
 * Bag of visual words (Csurka et al., "Visual categorization with bags of keypoints", ECCV workshop 2004) with a
 * two-level spatial pyramid (Lazebnik, Schmid & Ponce, CVPR 2006). The codebook — k-means centres of local
 * descriptors of the train split only — is part of the backbone's identity: its digest is in the fingerprint that
 * caches and classifiers record, so embeddings made with another codebook are refused like another network's.
 */
import { mulberry32 } from '../../util/prng';
import * as fs from 'fs';
import { kmeans } from 'ml-kmeans';
import { ConvfeatError, UsageError } from '../../util/errors';
import { canonicalJson, sha256Hex } from '../../util/hash';
import { writeFileAtomicSync } from '../../util/atomic';
import { ORB_BITS, unpackBits, type LocalFeatures } from './orb';

export const CODEBOOK_FORMAT = 'convfeat-codebook';

export interface Codebook {
  format: typeof CODEBOOK_FORMAT;
  version: 1;
  descriptor: 'orb';
  words: number;
  /** Grid sides of the spatial pyramid levels: [1, 2] = whole image + 2×2 quadrants. */
  pyramid: number[];
  /** words × 256 centres, row-major. */
  centroids: number[];
  fittedOn: {
    split: string;
    images: number;
    descriptors: number;
    /** sha256 over the sorted content hashes of the images the codebook was fitted on. */
    imagesDigest: string;
    seed: number;
  };
}

export function bowDimension(cb: Pick<Codebook, 'words' | 'pyramid'>): number {
  return cb.words * cb.pyramid.reduce((s, g) => s + g * g, 0);
}

export function codebookDigest(cb: Codebook): string {
  return sha256Hex(canonicalJson(cb)).slice(0, 16);
}

/** True when `file` is a JSON file that says it is a convfeat codebook (cheap: reads the first bytes only). */
export function looksLikeCodebook(file: string): boolean {
  if (!file.toLowerCase().endsWith('.json')) return false;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const head = Buffer.alloc(256);
      const n = fs.readSync(fd, head, 0, head.length, 0);
      return head.subarray(0, n).toString('utf8').includes(CODEBOOK_FORMAT);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
}

export function readCodebook(file: string): Codebook {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(
      `${file} is not a readable codebook (${(e as Error).message}); fit one with convfeat models codebook.`,
    );
  }
  const cb = parsed as Partial<Codebook>;
  const bad = (what: string): never => {
    throw new ConvfeatError(`${file} is a damaged codebook (${what}); fit it again with convfeat models codebook.`);
  };
  if (cb.format !== CODEBOOK_FORMAT || cb.version !== 1) bad('unknown format or version');
  if (cb.descriptor !== 'orb') bad(`descriptor ${JSON.stringify(cb.descriptor)} is not orb`);
  if (!Number.isInteger(cb.words) || cb.words! < 2 || cb.words! > 65536) bad('words must be an integer from 2');
  if (
    !Array.isArray(cb.pyramid) ||
    cb.pyramid.length === 0 ||
    !cb.pyramid.every((g) => Number.isInteger(g) && g >= 1 && g <= 8)
  )
    bad('pyramid must list grid sides from 1 to 8');
  if (!Array.isArray(cb.centroids) || cb.centroids.length !== cb.words! * ORB_BITS)
    bad('centroids have the wrong length');
  if (!cb.centroids!.every((v) => typeof v === 'number' && Number.isFinite(v)))
    bad('centroids are not all finite numbers');
  if (typeof cb.fittedOn !== 'object' || cb.fittedOn === null) bad('fittedOn is missing');
  return cb as Codebook;
}

export function writeCodebook(file: string, cb: Codebook): void {
  writeFileAtomicSync(file, `${JSON.stringify(cb)}\n`);
}

export interface FitCodebookOptions {
  words: number;
  seed: number;
  /** k-means runs on at most this many descriptors, sampled evenly at random from all images. */
  maxDescriptors: number;
  pyramid?: number[];
  split: string;
  /** Content hashes of the images (any order): recorded as one digest. */
  imageHashes: readonly string[];
}

/** Fits the codebook on the local features of the train images, given in a deterministic order. */
export function fitCodebook(features: readonly LocalFeatures[], opts: FitCodebookOptions): Codebook {
  const total = features.reduce((s, f) => s + f.count, 0);
  if (total < opts.words) {
    throw new ConvfeatError(
      `The train images gave ${total} ORB descriptors, fewer than the ${opts.words} words asked for; use fewer --words or more images.`,
    );
  }
  // Seeded, so the descriptor sample (and hence the codebook) is reproducible.
  const random = mulberry32(opts.seed);
  const keep = Math.min(total, opts.maxDescriptors);
  // Reservoir-free even sampling: each descriptor kept with probability keep/total, in a fixed order.
  const data: number[][] = [];
  for (const f of features) {
    for (let k = 0; k < f.count; k++) {
      if (keep < total && random() >= keep / total) continue;
      const row = new Array<number>(ORB_BITS);
      unpackBits(f.descriptors, k, row);
      data.push(row);
    }
  }
  // ml-kmeans' own k-means++ seeding takes ~10 s per 1,000 points (it rebuilds matrices per step): seed here, then
  // let the library run Lloyd's iterations from those centres.
  const seeds = kmeansPlusPlus(data, opts.words, random);
  const result = kmeans(data, opts.words, { initialization: seeds, maxIterations: 20 });
  const centroids: number[] = [];
  for (const c of result.centroids) for (const v of c) centroids.push(Math.round(v * 1e6) / 1e6);
  return {
    format: CODEBOOK_FORMAT,
    version: 1,
    descriptor: 'orb',
    words: opts.words,
    pyramid: opts.pyramid ?? [1, 2],
    centroids,
    fittedOn: {
      split: opts.split,
      images: features.length,
      descriptors: data.length,
      imagesDigest: sha256Hex([...opts.imageHashes].sort().join('\n')),
      seed: opts.seed,
    },
  };
}

/** k-means++ seeding (Arthur & Vassilvitskii, SODA 2007): each next centre drawn with probability ∝ D(x)². */
function kmeansPlusPlus(data: number[][], k: number, random: () => number): number[][] {
  const n = data.length;
  const dim = data[0]!.length;
  const nearest = new Float64Array(n).fill(Infinity);
  const centres: number[][] = [data[Math.floor(random() * n)]!];
  while (centres.length < k) {
    const last = centres[centres.length - 1]!;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const row = data[i]!;
      let d = 0;
      for (let j = 0; j < dim; j++) {
        const t = row[j]! - last[j]!;
        d += t * t;
      }
      if (d < nearest[i]!) nearest[i] = d;
      total += nearest[i]!;
    }
    let target = random() * total;
    let pick = n - 1;
    for (let i = 0; i < n; i++) {
      target -= nearest[i]!;
      if (target < 0) {
        pick = i;
        break;
      }
    }
    centres.push([...data[pick]!]);
  }
  return centres;
}

/** Precomputed squared norms of the centres: nearest word by ||c||² − 2·b·c (|b|² is the same for every c). */
export class WordAssigner {
  private readonly norms: Float64Array;
  private readonly centres: Float64Array;
  constructor(readonly cb: Codebook) {
    this.centres = Float64Array.from(cb.centroids);
    this.norms = new Float64Array(cb.words);
    for (let w = 0; w < cb.words; w++) {
      let s = 0;
      for (let d = 0; d < ORB_BITS; d++) s += this.centres[w * ORB_BITS + d]! ** 2;
      this.norms[w] = s;
    }
  }

  nearest(bits: Float64Array): number {
    let best = 0;
    let bestScore = Infinity;
    for (let w = 0; w < this.cb.words; w++) {
      let dot = 0;
      const base = w * ORB_BITS;
      for (let d = 0; d < ORB_BITS; d++) if (bits[d] === 1) dot += this.centres[base + d]!;
      const score = this.norms[w]! - 2 * dot;
      if (score < bestScore) {
        bestScore = score;
        best = w;
      }
    }
    return best;
  }

  /** The pyramid histogram of one image into `out` at `offset`: each level L1-normalised, then square-rooted. */
  encode(f: LocalFeatures, out: Float32Array, offset = 0): void {
    const words = new Int32Array(f.count);
    const bits = new Float64Array(ORB_BITS);
    for (let k = 0; k < f.count; k++) {
      unpackBits(f.descriptors, k, bits);
      words[k] = this.nearest(bits);
    }
    let o = offset;
    for (const grid of this.cb.pyramid) {
      const len = this.cb.words * grid * grid;
      const counts = new Float64Array(len);
      for (let k = 0; k < f.count; k++) {
        const cell = Math.floor(f.y[k]! * grid) * grid + Math.floor(f.x[k]! * grid);
        counts[cell * this.cb.words + words[k]!] += 1;
      }
      const total = f.count > 0 ? f.count : 1;
      for (let i = 0; i < len; i++) out[o + i] = Math.sqrt(counts[i]! / total);
      o += len;
    }
  }
}
