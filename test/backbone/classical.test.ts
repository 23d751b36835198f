/**
 * Classical (hand-engineered) backbones on real photos: the documented dimension, deterministic output, the
 * invariances each feature claims, a codebook that only the train split can change, and caches/classifiers that
 * refuse each other's embeddings like any two networks'.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { preprocessDetailed } from '../../src/preprocess/transform';
import { resolveClassical, classicalEmbedder } from '../../src/backbone/classical';
import { hog, hogDimension } from '../../src/backbone/classical/hog';
import { colorHistogram } from '../../src/backbone/classical/colorHist';
import { SMALL_SPEC } from '../../src/backbone/classical/specs';
import { fitCodebookFromDataset } from '../../src/backbone/classical/fit';
import { readCodebook, writeCodebook } from '../../src/backbone/classical/codebook';
import { scanDataset } from '../../src/dataset';
import { photos, REPO_ROOT, tmpDir } from '../support/data';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 240000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const work = tmpDir('classical');
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

async function pixels(file: string): Promise<Float32Array> {
  return (await preprocessDetailed(fs.readFileSync(file), { spec: SMALL_SPEC, exif: 'apply' })).tensor;
}

/** Mirror an interleaved RGB image left to right. */
function flip(rgb: Float32Array, h: number, w: number): Float32Array {
  const out = new Float32Array(rgb.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 3; c++) out[(y * w + (w - 1 - x)) * 3 + c] = rgb[(y * w + x) * 3 + c]!;
  return out;
}

const S = 128;
const samples = [...photos('train', 'car', 2), ...photos('train', 'flower', 2), ...photos('test', 'person', 2)];

describe('HOG (Dalal & Triggs 2005)', () => {
  const dim = hogDimension(S, S);
  test('8,100 values for a 128×128 crop, deterministic, every block unit-length with L2-Hys clipping', async () => {
    expect(dim).toBe(15 * 15 * 4 * 9);
    expect(resolveClassical('classical:hog').dim).toBe(dim);
    for (const file of samples) {
      const img = await pixels(file);
      const a = new Float32Array(dim);
      const b = new Float32Array(dim);
      hog(img, S, S, a);
      hog(img, S, S, b);
      expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
      for (let blk = 0; blk < dim / 36; blk++) {
        let ss = 0;
        let max = 0;
        for (let t = 0; t < 36; t++) {
          ss += a[blk * 36 + t]! ** 2;
          max = Math.max(max, a[blk * 36 + t]!);
        }
        // A textured block is renormalised after clipping: unit length, and no component dominates it.
        if (ss > 0.5) {
          expect(Math.sqrt(ss)).toBeCloseTo(1, 4);
          expect(max).toBeLessThan(0.9);
        }
      }
    }
  });

  test('a mirrored photo gives the mirrored descriptor: blocks, cells and orientation bins reflected', async () => {
    const blocksX = S / 8 - 1;
    for (const file of samples) {
      const img = await pixels(file);
      const a = new Float32Array(dim);
      const m = new Float32Array(dim);
      hog(img, S, S, a);
      hog(flip(img, S, S), S, S, m);
      let worst = 0;
      for (let by = 0; by < blocksX; by++)
        for (let bx = 0; bx < blocksX; bx++)
          for (let j = 0; j < 2; j++)
            for (let i = 0; i < 2; i++)
              for (let b = 0; b < 9; b++) {
                const va = a[(by * blocksX + bx) * 36 + (j * 2 + i) * 9 + b]!;
                const vm = m[(by * blocksX + (blocksX - 1 - bx)) * 36 + (j * 2 + (1 - i)) * 9 + (8 - b)]!;
                worst = Math.max(worst, Math.abs(va - vm));
              }
      expect(worst).toBeLessThan(1e-4);
    }
  });

  test('unchanged by a brightness offset (gradients only), changed by content', async () => {
    const img = await pixels(samples[0]!);
    const brighter = img.map((v) => v + 20);
    const a = new Float32Array(dim);
    const b = new Float32Array(dim);
    const c = new Float32Array(dim);
    hog(img, S, S, a);
    hog(brighter, S, S, b);
    hog(await pixels(samples[2]!), S, S, c);
    let diff = 0;
    let other = 0;
    for (let i = 0; i < dim; i++) {
      diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
      other = Math.max(other, Math.abs(a[i]! - c[i]!));
    }
    expect(diff).toBeLessThan(1e-5);
    expect(other).toBeGreaterThan(0.05);
  });

  test('a vertical edge votes into the 0° bin, a horizontal edge into the 90° bin', () => {
    const edge = (vertical: boolean): Float32Array => {
      const img = new Float32Array(S * S * 3);
      for (let y = 0; y < S; y++)
        for (let x = 0; x < S; x++) {
          const on = vertical ? x >= S / 2 : y >= S / 2;
          for (let c = 0; c < 3; c++) img[(y * S + x) * 3 + c] = on ? 200 : 50;
        }
      return img;
    };
    const binTotals = (img: Float32Array): number[] => {
      const out = new Float32Array(dim);
      hog(img, S, S, out);
      const totals = new Array<number>(9).fill(0);
      for (let i = 0; i < dim; i++) totals[i % 9]! += out[i]!;
      return totals;
    };
    const v = binTotals(edge(true));
    const h = binTotals(edge(false));
    // Gradient of a vertical edge points along x (0°): bins 0 and 8 straddle 0°; 90° sits between bins 4 and 5.
    expect(v[0]! + v[8]!).toBeGreaterThan(0.9 * v.reduce((s, x) => s + x, 0));
    expect(h[4]! + h[5]!).toBeGreaterThan(0.9 * h.reduce((s, x) => s + x, 0));
  });
});

describe('colour histogram (joint HSV 16×4×4)', () => {
  test('256 values of unit length, unchanged by a horizontal flip, different across photos', async () => {
    const dim = resolveClassical('classical:color-hist').dim;
    expect(dim).toBe(256);
    const hist = (img: Float32Array): Float32Array => {
      const out = new Float32Array(dim);
      colorHistogram(img, S * S, out);
      return out;
    };
    const a = hist(await pixels(samples[0]!));
    const f = hist(flip(await pixels(samples[0]!), S, S));
    const o = hist(await pixels(samples[2]!));
    expect(Buffer.from(a.buffer).equals(Buffer.from(f.buffer))).toBe(true);
    expect(a.reduce((s, v) => s + v * v, 0)).toBeCloseTo(1, 5);
    expect(Buffer.from(a.buffer).equals(Buffer.from(o.buffer))).toBe(false);
  });

  test('a pure colour lands in its hue bin: red in hue bin 0, blue in hue bin 10 (240°)', () => {
    const solid = (r: number, g: number, b: number): Float32Array => {
      const img = new Float32Array(16 * 3);
      for (let i = 0; i < 16; i++) img.set([r, g, b], i * 3);
      const out = new Float32Array(256);
      colorHistogram(img, 16, out);
      return out;
    };
    // (hue * 4 + saturation) * 4 + value; full saturation and value are bin 3 each.
    expect(solid(255, 0, 0)[(0 * 4 + 3) * 4 + 3]).toBe(1);
    expect(solid(0, 0, 255)[(10 * 4 + 3) * 4 + 3]).toBe(1);
  });
});

/** A split ImageFolder of symlinks: `train` the same in both calls, `val`/`test` from the given offsets. */
function splitFolder(name: string, heldOutOffset: number): string {
  const root = path.join(work, name);
  for (const cls of ['car', 'flower', 'cat']) {
    const train = photos('train', cls, 6);
    const heldOut = photos('test', cls, heldOutOffset + 4).slice(heldOutOffset);
    for (const [split, files] of [
      ['train', train],
      ['val', heldOut.slice(0, 2)],
      ['test', heldOut.slice(2)],
    ] as const) {
      fs.mkdirSync(path.join(root, split, cls), { recursive: true });
      for (const f of files) fs.symlinkSync(f, path.join(root, split, cls, path.basename(f)));
    }
  }
  return root;
}

describe('ORB bag of visual words', () => {
  test('the codebook depends on the train split only, is reproducible, and sets the feature size', async () => {
    const a = await fitCodebookFromDataset(await scanDataset(splitFolder('bow-a', 0)), { words: 16 });
    const b = await fitCodebookFromDataset(await scanDataset(splitFolder('bow-b', 8)), { words: 16 });
    expect(a.fittedOn.split).toBe('train');
    expect(a.fittedOn.images).toBe(18);
    expect(b).toEqual(a); // other val/test photos, same codebook
    const file = path.join(work, 'bow.json');
    writeCodebook(file, a);
    expect(readCodebook(file)).toEqual(a);
    const m = resolveClassical(file);
    expect(m.name).toBe('classical:orb-bow');
    expect(m.dim).toBe(16 * 5);
    const embed = await classicalEmbedder(m);
    try {
      const img = (await preprocessDetailed(fs.readFileSync(samples[0]!), { spec: m.spec, exif: 'apply' })).tensor;
      const x = await embed(img, 1);
      const y = await embed(img, 1);
      expect(Buffer.from(x.buffer).equals(Buffer.from(y.buffer))).toBe(true);
      // level 0 (whole image) is a square-rooted distribution over the words
      expect(x.subarray(0, 16).reduce((s, v) => s + v * v, 0)).toBeCloseTo(1, 5);
    } finally {
      embed.close();
    }
    // A different train split moves the codebook, and with it the fingerprint.
    const c = await fitCodebookFromDataset(await scanDataset(splitFolder('bow-c', 0)), { words: 16, seed: 1 });
    const other = path.join(work, 'bow-other.json');
    writeCodebook(other, c);
    expect(resolveClassical(other).fingerprint).not.toBe(m.fingerprint);
  });

  test('classical:orb-bow without a codebook says how to fit one', () => {
    expect(() => resolveClassical('classical:orb-bow')).toThrow(/convfeat models codebook --data DIR/);
    expect(() => resolveClassical('classical:sift')).toThrow(/classical:hog, classical:color-hist, classical:orb-bow/);
  });
});

describe('classical backbones through the CLI', () => {
  const data = splitFolder('cli', 0);
  const hogCache = path.join(work, 'hog-cache');
  const deepCache = path.join(work, 'deep-cache');
  const hogClf = path.join(work, 'hog.json');
  const deepClf = path.join(work, 'deep.json');

  test('extract → fit-linear → evaluate → predict work unchanged; the cache records the classical model', () => {
    let r = run(['extract', '--model', 'classical:hog', '--data', data, '--cache', hogCache, '--json']);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { extracted: number }).extracted).toBe(30);
    const cacheJson = JSON.parse(fs.readFileSync(path.join(hogCache, 'cache.json'), 'utf8')) as Record<string, unknown>;
    expect(JSON.stringify(cacheJson)).toContain('classical:hog');
    r = run(['fit-linear', '--cache', hogCache, '--out', hogClf]);
    expect(r.code).toBe(0);
    r = run(['evaluate', '--classifier', hogClf, '--cache', hogCache, '--json']);
    expect(r.code).toBe(0);
    const acc = (JSON.parse(r.stdout) as { accuracy: number }).accuracy;
    expect(acc).toBeGreaterThan(1 / 3 - 1e-9); // 6 test photos; better than nothing is all we can ask of 18 train photos
    r = run(['predict', '--classifier', hogClf, '--data', path.join(data, 'test'), '--out', '-']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').length).toBe(1 + 6);
  });

  test('a classical cache refuses a ResNet50 classifier and a ResNet50 cache refuses a classical one', () => {
    expect(run(['extract', '--model', 'resnet50', '--data', data, '--cache', deepCache]).code).toBe(0);
    expect(run(['fit-linear', '--cache', deepCache, '--out', deepClf]).code).toBe(0);
    if (!fs.existsSync(hogClf)) {
      expect(run(['extract', '--model', 'classical:hog', '--data', data, '--cache', hogCache]).code).toBe(0);
      expect(run(['fit-linear', '--cache', hogCache, '--out', hogClf]).code).toBe(0);
    }
    const a = run(['evaluate', '--classifier', deepClf, '--cache', hogCache]);
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/convfeat: .*(resnet50|classical:hog)/);
    const b = run(['evaluate', '--classifier', hogClf, '--cache', deepCache]);
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/convfeat: .*(resnet50|classical:hog)/);
    const c = run([
      'predict',
      '--classifier',
      hogClf,
      '--model',
      'resnet50',
      '--data',
      path.join(data, 'test'),
      '--out',
      '-',
    ]);
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/not the backbone the classifier was trained on/);
    const d = run(['export', '--classifier', hogClf, '--out', path.join(work, 'x.onnx')]);
    expect(d.code).toBe(1);
    expect(d.stderr).toMatch(/hand-engineered feature extractor, not an ONNX graph/);
    expect(fs.existsSync(path.join(work, 'x.onnx'))).toBe(false);
  });
});
