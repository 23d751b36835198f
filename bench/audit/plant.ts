/**
 * Plants known problems into a copy of Mini Natural Images (symlinks to the shared photos plus a few written files,
 * under a directory the caller gives, never the repository): near-duplicate copies of train photos placed in test
 * (re-encoded, resized, slightly cropped), train photos moved to a wrong class, and junk images (solid colours,
 * noise). Returns the ground truth the audit is scored against. Deterministic for a seed.
 */
import { mulberry32 } from '../../src/util/prng';
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';

export interface PlantOptions {
  /** Mini Natural Images root with train/val/test/<class>/. */
  source: string;
  /** Directory to create the planted copy in (must not exist or be empty). */
  out: string;
  /** Photos per class and split to take (default: all). */
  perClass?: Partial<Record<'train' | 'val' | 'test', number>>;
  duplicates?: number;
  labelErrors?: number;
  junk?: number;
  seed?: number;
}

export interface PlantedTruth {
  /** relPath of the copy in test → relPath of its train original. */
  duplicates: Array<{ copy: string; original: string; kind: 'reencode' | 'resize' | 'crop' }>;
  /** relPath (as placed, in the wrong class folder) → its true class. */
  labelErrors: Array<{ relPath: string; trueLabel: string; givenLabel: string }>;
  junk: Array<{ relPath: string; kind: 'solid' | 'noise' }>;
  /** Every relPath in the planted copy. */
  total: number;
}

function pickDistinct<T>(items: T[], n: number, rand: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, n);
}

async function nearCopy(src: string, dst: string, kind: 'reencode' | 'resize' | 'crop'): Promise<void> {
  const img = sharp(src);
  const { width = 100, height = 100 } = await img.metadata();
  let pipeline = sharp(src);
  if (kind === 'resize') pipeline = pipeline.resize(Math.round(width * 0.75), Math.round(height * 0.75));
  if (kind === 'crop') {
    // About 6 % off each side: a slightly tighter framing of the same photo.
    const dx = Math.round(width * 0.06);
    const dy = Math.round(height * 0.06);
    pipeline = pipeline.extract({ left: dx, top: dy, width: width - 2 * dx, height: height - 2 * dy });
  }
  await pipeline.jpeg({ quality: kind === 'reencode' ? 55 : 80 }).toFile(dst);
}

async function junkImage(dst: string, kind: 'solid' | 'noise', rand: () => number): Promise<void> {
  const w = 160;
  const h = 120;
  const px = Buffer.alloc(w * h * 3);
  if (kind === 'solid') {
    const c = [Math.floor(rand() * 256), Math.floor(rand() * 256), Math.floor(rand() * 256)];
    for (let i = 0; i < w * h; i++) px.set(c, i * 3);
  } else for (let i = 0; i < px.length; i++) px[i] = Math.floor(rand() * 256);
  await sharp(px, { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality: 90 })
    .toFile(dst);
}

export async function plantProblems(options: PlantOptions): Promise<PlantedTruth> {
  const rand = mulberry32(options.seed ?? 7);
  const nDup = options.duplicates ?? 20;
  const nErr = options.labelErrors ?? 20;
  const nJunk = options.junk ?? 10;
  const splits = ['train', 'val', 'test'] as const;
  const classes = fs
    .readdirSync(path.join(options.source, 'train'))
    .filter((c) => fs.statSync(path.join(options.source, 'train', c)).isDirectory())
    .sort();
  // relPath → absolute source file, in the clean layout.
  const files = new Map<string, string>();
  for (const split of splits)
    for (const cls of classes) {
      const dir = path.join(options.source, split, cls);
      const names = fs
        .readdirSync(dir)
        .filter((f) => /\.jpe?g$/i.test(f))
        .sort();
      const limit = options.perClass?.[split];
      for (const f of limit === undefined ? names : names.slice(0, limit))
        files.set(`${split}/${cls}/${f}`, path.join(dir, f));
    }
  const train = [...files.keys()].filter((r) => r.startsWith('train/'));
  // Duplicates and label errors come from disjoint train photos so each problem is scored on its own.
  const chosen = pickDistinct(train, nDup + nErr, rand);
  const truth: PlantedTruth = { duplicates: [], labelErrors: [], junk: [], total: 0 };
  const placed = new Map<string, string>(files); // relPath → source (symlink) or '' for written files
  const kinds = ['reencode', 'resize', 'crop'] as const;
  const writes: Array<() => Promise<void>> = [];
  chosen.slice(0, nDup).forEach((original, i) => {
    const [, cls, name] = original.split('/');
    const kind = kinds[i % kinds.length]!;
    const copy = `test/${cls}/planted_dup_${i}_${name}`;
    placed.set(copy, '');
    writes.push(() => nearCopy(files.get(original)!, path.join(options.out, copy), kind));
    truth.duplicates.push({ copy, original, kind });
  });
  chosen.slice(nDup).forEach((original) => {
    const [, cls, name] = original.split('/');
    const others = classes.filter((c) => c !== cls);
    const wrong = others[Math.floor(rand() * others.length)]!;
    const moved = `train/${wrong}/${name}`;
    placed.set(moved, files.get(original)!);
    placed.delete(original);
    truth.labelErrors.push({ relPath: moved, trueLabel: cls!, givenLabel: wrong });
  });
  for (let i = 0; i < nJunk; i++) {
    const kind = i % 2 === 0 ? 'solid' : 'noise';
    const split = splits[i % 3]!;
    const cls = classes[Math.floor(rand() * classes.length)]!;
    const rel = `${split}/${cls}/planted_junk_${i}.jpg`;
    placed.set(rel, '');
    const junkRand = mulberry32((options.seed ?? 7) * 1000 + i);
    writes.push(() => junkImage(path.join(options.out, rel), kind, junkRand));
    truth.junk.push({ relPath: rel, kind });
  }
  for (const [rel, src] of placed) {
    const dst = path.join(options.out, rel);
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    if (src) fs.symlinkSync(src, dst);
  }
  for (const w of writes) await w();
  truth.total = placed.size;
  return truth;
}
