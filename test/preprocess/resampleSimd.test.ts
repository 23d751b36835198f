/**
 * The WebAssembly SIMD kernel (src/preprocess/wasmResample.ts) against the JS reference (resampleRegionJs + normaliseInto):
 * byte for byte on the uint8 resize, bit for bit on the float tensor, over random and extreme sizes and real photos.
 * Every check also asserts that the kernel actually ran, so a broken build cannot pass by falling back to JS.
 */
import * as fs from 'fs';
import {
  decodeImage,
  normaliseInto,
  preprocessDecoded,
  preprocessDecodedInto,
  TORCHVISION_IMAGENET,
  type PreprocessSpec,
} from '../../src/preprocess';
import { planGeometry } from '../../src/preprocess/geometry';
import { resampleBackend, resampleRegion, resampleRegionJs, type Region } from '../../src/preprocess/resample';
import { kernelCalls, RESIDENT_LIMIT, residentMemoryBytes } from '../../src/preprocess/wasmResample';
import { photos } from '../support/data';
import { mulberry32 } from '../../src/util/prng';

/** mulberry32: the same "random" cases on every run, so a failure can be replayed. */
const prng = mulberry32;

function image(rand: () => number, width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  // Noise with one byte in 16 at 0 or 255: sums land on every rounding boundary and the clamps saturate.
  // xorshift32 seeded from rand: fast enough for the 68 MB image below.
  let s = (rand() * 4294967296) | 0 || 1;
  for (let i = 0; i < data.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    data[i] = (s & 15) === 0 ? (s & 16 ? 255 : 0) : s >>> 24;
  }
  return data;
}

function expectSameBytes(got: Uint8Array, want: Uint8Array, what: string): void {
  expect(got.length).toBe(want.length);
  const at = got.findIndex((v, i) => v !== want[i]);
  if (at >= 0) throw new Error(`${what}: byte ${at} is ${got[at]}, the JS reference gives ${want[at]}`);
}

function expectSameBits(got: Float32Array, want: Float32Array, what: string): void {
  expect(got.length).toBe(want.length);
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const b = new Uint32Array(want.buffer, want.byteOffset, want.length);
  const at = a.findIndex((v, i) => v !== b[i]);
  if (at >= 0) throw new Error(`${what}: element ${at} is ${got[at]}, the JS reference gives ${want[at]}`);
}

/** What transform.ts computed before the kernel: JS resample of the crop, zero padding, JS normalisation. */
function referenceTensor(rgb: Uint8Array, width: number, height: number, spec: PreprocessSpec): Float32Array {
  const { resized, output, x, y } = planGeometry(spec, width, height);
  const region = { left: x.srcStart, top: y.srcStart, width: x.count, height: y.count };
  const inner = resampleRegionJs(rgb, width, height, 3, resized.width, resized.height, spec.interpolation, region);
  const data = new Uint8Array(output.width * output.height * 3);
  for (let r = 0; r < y.count; r++) {
    data.set(
      inner.subarray(r * x.count * 3, (r + 1) * x.count * 3),
      ((y.dstStart + r) * output.width + x.dstStart) * 3,
    );
  }
  const out = new Float32Array(3 * output.width * output.height);
  normaliseInto(out, 0, { data, ...output }, spec);
  return out;
}

const SPECS: PreprocessSpec[] = [];
for (const layout of ['NCHW', 'NHWC'] as const)
  for (const channelOrder of ['RGB', 'BGR'] as const) {
    SPECS.push({ ...TORCHVISION_IMAGENET, layout, channelOrder });
    // Keras "caffe": 0..255 levels, mean only, and no crop.
    SPECS.push({
      ...TORCHVISION_IMAGENET,
      resize: { mode: 'exact', width: 37, height: 29 },
      crop: undefined,
      scale: 1,
      mean: [103.939, 116.779, 123.68],
      std: [1, 1, 1],
      layout,
      channelOrder,
    });
  }

test('the WebAssembly SIMD kernel is the backend (a broken build fails here instead of silently running JS)', () => {
  expect(resampleBackend()).toEqual({ kind: 'wasm-simd' });
});

test('random sizes, up and down, with random regions: the kernel gives the reference bytes', () => {
  const rand = prng(14);
  const before = kernelCalls().u8;
  const dim = () => 1 + Math.floor(rand() < 0.3 ? rand() * 6 : rand() * 300);
  for (let t = 0; t < 600; t++) {
    const [w, h, ow, oh] = [dim(), dim(), dim(), dim()];
    const left = Math.floor(rand() * ow);
    const top = Math.floor(rand() * oh);
    const region = {
      left,
      top,
      width: 1 + Math.floor(rand() * (ow - left)),
      height: 1 + Math.floor(rand() * (oh - top)),
    };
    const src = image(rand, w, h);
    const want = resampleRegionJs(src, w, h, 3, ow, oh, 'bilinear', region);
    expectSameBytes(resampleRegion(src, w, h, 3, ow, oh, 'bilinear', region), want, `${w}×${h} → ${ow}×${oh}`);
  }
  // Every case with a size change ran in the kernel (the self-check may have run once more).
  expect(kernelCalls().u8 - before).toBeGreaterThanOrEqual(590);
});

test('extreme cases: 1-pixel images, thin strips, huge downscale factors, regions on every border', () => {
  const rand = prng(3);
  const cases: [number, number, number, number, Region?][] = [
    [1, 1, 1, 7],
    [1, 1, 9, 1],
    [1, 1, 300, 200],
    [1, 900, 5, 3], // ksize 601 vertically
    [2000, 1, 3, 1], // ksize 1335 horizontally
    [2000, 2, 1, 1],
    [3, 1000, 224, 224],
    [1000, 3, 224, 224],
    [513, 257, 256, 128], // just under 2×: ksize 7, odd sizes
    [255, 257, 256, 256],
    [640, 480, 341, 256, { left: 58, top: 16, width: 224, height: 224 }],
    [640, 480, 341, 256, { left: 0, top: 0, width: 1, height: 1 }],
    [640, 480, 341, 256, { left: 340, top: 255, width: 1, height: 1 }],
    [97, 61, 256, 161, { left: 255, top: 0, width: 1, height: 161 }],
    [97, 61, 256, 161, { left: 0, top: 160, width: 256, height: 1 }],
    [61, 97, 61, 390, { left: 3, top: 100, width: 58, height: 224 }], // width kept: vertical pass only
    [97, 61, 400, 61, { left: 0, top: 2, width: 400, height: 57 }], // height kept: horizontal pass only
  ];
  for (const [w, h, ow, oh, region] of cases) {
    const src = image(rand, w, h);
    const r = region ?? { left: 0, top: 0, width: ow, height: oh };
    const before = kernelCalls().u8;
    const got = resampleRegion(src, w, h, 3, ow, oh, 'bilinear', r);
    expect(kernelCalls().u8).toBe(before + 1);
    expectSameBytes(got, resampleRegionJs(src, w, h, 3, ow, oh, 'bilinear', r), `${w}×${h} → ${ow}×${oh}`);
  }
});

test('the fused resize + normalisation gives the reference float32 bits in NCHW / NHWC, RGB / BGR', () => {
  const rand = prng(99);
  const before = kernelCalls().fused;
  let runs = 0;
  for (let t = 0; t < 400; t++) {
    const spec = SPECS[t % SPECS.length]!;
    const w = 1 + Math.floor(rand() < 0.2 ? rand() * 5 : rand() * 500);
    const h = 1 + Math.floor(rand() < 0.2 ? rand() * 5 : rand() * 500);
    const src = image(rand, w, h);
    expectSameBits(
      preprocessDecoded(src, w, h, spec),
      referenceTensor(src, w, h, spec),
      `${w}×${h} ${spec.layout} ${spec.channelOrder}`,
    );
    runs++;
  }
  expect(kernelCalls().fused - before).toBeGreaterThanOrEqual(runs);
});

test('the fused path writes exactly its slot of a batch tensor', () => {
  const rand = prng(5);
  for (const spec of SPECS) {
    const [w, h] = [1 + Math.floor(rand() * 300), 1 + Math.floor(rand() * 300)];
    const src = image(rand, w, h);
    const want = referenceTensor(src, w, h, spec);
    const batch = new Float32Array(want.length * 3).fill(-7);
    const before = kernelCalls().fused;
    preprocessDecodedInto(batch, want.length, src, w, h, spec);
    expect(kernelCalls().fused).toBe(before + 1);
    expectSameBits(batch.subarray(want.length, 2 * want.length), want, `${spec.layout} ${spec.channelOrder}`);
    expect(batch.subarray(0, want.length).every((v) => v === -7)).toBe(true);
    expect(batch.subarray(2 * want.length).every((v) => v === -7)).toBe(true);
  }
});

test('real photos: fused tensors equal the JS reference bit for bit', async () => {
  const files = [...photos('train', 'cat', 3), ...photos('train', 'airplane', 3), ...photos('train', 'flower', 2)];
  for (const file of files) {
    const decoded = await decodeImage(fs.readFileSync(file), { exif: 'ignore' });
    for (const spec of SPECS) {
      const before = kernelCalls().fused;
      const got = preprocessDecoded(decoded.data, decoded.width, decoded.height, spec);
      expect(kernelCalls().fused).toBe(before + 1);
      expectSameBits(got, referenceTensor(decoded.data, decoded.width, decoded.height, spec), file);
    }
  }
});

test('a crop larger than the image (zero padding) keeps the two-step path and the reference output', () => {
  const rand = prng(8);
  const spec: PreprocessSpec = { ...TORCHVISION_IMAGENET, resize: { mode: 'none' }, crop: { width: 40, height: 30 } };
  const src = image(rand, 23, 41);
  expectSameBits(preprocessDecoded(src, 23, 41, spec), referenceTensor(src, 23, 41, spec), 'padded crop');
});

test('an image larger than the resident memory runs in a throwaway instance: same bytes, memory stays bounded', () => {
  const rand = prng(21);
  const [w, h] = [4700, 4800]; // 67.7 MB of RGB, more than RESIDENT_LIMIT
  expect(w * h * 3).toBeGreaterThan(RESIDENT_LIMIT);
  const src = image(rand, w, h);
  const region = { left: 16, top: 16, width: 224, height: 224 };
  const before = kernelCalls().u8;
  const got = resampleRegion(src, w, h, 3, 256, 261, 'bilinear', region);
  expect(kernelCalls().u8).toBe(before + 1);
  expectSameBytes(got, resampleRegionJs(src, w, h, 3, 256, 261, 'bilinear', region), 'huge image');
  expect(residentMemoryBytes()).toBeLessThanOrEqual(RESIDENT_LIMIT + 65536);
});

test('without WebAssembly the backend is JS, says why, and gives the same bytes', () => {
  const saved = (globalThis as { WebAssembly?: unknown }).WebAssembly;
  let fresh: typeof import('../../src/preprocess/resample') | undefined;
  try {
    (globalThis as { WebAssembly?: unknown }).WebAssembly = undefined;
    jest.isolateModules(() => {
      fresh = require('../../src/preprocess/resample');
    });
  } finally {
    (globalThis as { WebAssembly?: unknown }).WebAssembly = saved;
  }
  const backend = fresh!.resampleBackend();
  expect(backend.kind).toBe('js');
  expect(backend.reason).toMatch(/WebAssembly with 128-bit SIMD/);
  const src = image(prng(1), 31, 17);
  const region = { left: 2, top: 3, width: 40, height: 20 };
  expectSameBytes(
    fresh!.resampleRegion(src, 31, 17, 3, 64, 35, 'bilinear', region),
    resampleRegionJs(src, 31, 17, 3, 64, 35, 'bilinear', region),
    'JS backend',
  );
});
