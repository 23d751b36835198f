/**
 * Decoded RGB → network input tensor: resize and centre-crop exactly as torchvision on PIL images, then
 * (x / scale − mean) / std in float32, channel order and layout from the spec.
 *
 * Normalisation goes through a 256-entry table per channel whose entries are rounded to float32 after each step,
 * as torch does (ToTensor divides in float32, Normalize subtracts and divides float32 tensors), so the tensor is
 * bit-identical to torchvision's whenever the uint8 pixels are.
 *
 * Bilinear RGB runs on the WebAssembly SIMD kernel (wasmResample.ts), resize and normalisation fused so the uint8 crop is
 * never materialised, whenever that kernel reproduces the JS reference for the spec (checked once per spec);
 * otherwise the JS path below, with identical output.
 */
import { invalid } from '../util/validate';
import { decodeImage, type DecodedImage } from './decode';
import { planGeometry, type Plan } from './geometry';
import { validateSpec, validateTransformOptions, type TransformOptions } from './options';
import { resampleBackend, resampleRegion } from './resample';
import { wasmResampleNormalise, type FusedNormalisation } from './wasmResample';
import type { PreprocessSpec } from './spec';

/** An 8-bit RGB image, interleaved. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Element count of the tensor one image yields (3 × height × width). */
export function tensorLength(spec: PreprocessSpec, width: number, height: number): number {
  const { output } = planGeometry(spec, width, height);
  return 3 * output.width * output.height;
}

/** The resized and cropped image, still uint8 RGB (what torchvision's PIL transforms hand to ToTensor). */
export function resizeAndCrop(rgb: Uint8Array, width: number, height: number, spec: PreprocessSpec): RgbImage {
  return resizeAndCropPlanned(rgb, width, height, spec, planGeometry(spec, width, height));
}

function resizeAndCropPlanned(
  rgb: Uint8Array,
  width: number,
  height: number,
  spec: PreprocessSpec,
  plan: Plan,
): RgbImage {
  const { resized, output, x, y } = plan;
  // Only the part of the resized image that survives the crop is computed (identical pixels, less work).
  const inner = resampleRegion(rgb, width, height, 3, resized.width, resized.height, spec.interpolation, {
    left: x.srcStart,
    top: y.srcStart,
    width: x.count,
    height: y.count,
  });
  if (x.count === output.width && y.count === output.height) return { data: inner, ...output };
  // Crop larger than the image: torchvision pads with zeros around it.
  const data = new Uint8Array(output.width * output.height * 3);
  const rowBytes = x.count * 3;
  for (let r = 0; r < y.count; r++) {
    data.set(inner.subarray(r * rowBytes, (r + 1) * rowBytes), ((y.dstStart + r) * output.width + x.dstStart) * 3);
  }
  return { data, ...output };
}

const lutCache = new WeakMap<PreprocessSpec, Float32Array>();

/** lut[c * 256 + v]: the network value of 8-bit level v in network channel c, rounded to float32 like torch. */
export function normalisationTable(spec: PreprocessSpec): Float32Array {
  const cached = lutCache.get(spec);
  if (cached) return cached;
  const lut = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    const mean = Math.fround(spec.mean[c]);
    const std = Math.fround(spec.std[c]);
    for (let v = 0; v < 256; v++) {
      lut[c * 256 + v] = Math.fround(Math.fround(Math.fround(v / spec.scale) - mean) / std);
    }
  }
  lutCache.set(spec, lut);
  return lut;
}

/** Writes an RGB uint8 image into target[offset…] as a normalised tensor in the spec's channel order and layout. */
export function normaliseInto(target: Float32Array, offset: number, image: RgbImage, spec: PreprocessSpec): void {
  const lut = normalisationTable(spec);
  const n = image.width * image.height;
  const src = image.data;
  // Network channel c reads source channel order[c].
  const order = spec.channelOrder === 'BGR' ? [2, 1, 0] : [0, 1, 2];
  const [s0, s1, s2] = order;
  if (spec.layout === 'NCHW') {
    // One sequential pass over the pixels writing the three planes (not three strided passes over the source):
    // the source is read once (resize + normalise 0.78 → 0.70 ms per photo, bench/README.md int8 section).
    const b0 = offset;
    const b1 = offset + n;
    const b2 = offset + 2 * n;
    for (let i = 0, p = 0; i < n; i++, p += 3) {
      target[b0 + i] = lut[src[p + s0]];
      target[b1 + i] = lut[256 + src[p + s1]];
      target[b2 + i] = lut[512 + src[p + s2]];
    }
  } else {
    for (let i = 0, o = offset; i < n; i++, o += 3) {
      const p = i * 3;
      target[o] = lut[src[p + s0]];
      target[o + 1] = lut[256 + src[p + s1]];
      target[o + 2] = lut[512 + src[p + s2]];
    }
  }
}

const fusedCache = new WeakMap<PreprocessSpec, FusedNormalisation | null>();

/**
 * The fused kernel's normalisation for this spec, or null when the JS path must run: a filter other than bilinear,
 * no WebAssembly SIMD, or float32 arithmetic that would not reproduce normalisationTable (the kernel computes
 * ((v / scale) − mean) / std instead of looking it up; checked once per spec on every level of every channel).
 */
function fusedNormalisation(spec: PreprocessSpec): FusedNormalisation | null {
  const cached = fusedCache.get(spec);
  if (cached !== undefined) return cached;
  let fused: FusedNormalisation | null = null;
  if (spec.interpolation === 'bilinear' && resampleBackend().kind === 'wasm-simd') {
    const candidate: FusedNormalisation = {
      layout: spec.layout,
      order: spec.channelOrder === 'BGR' ? [2, 1, 0] : [0, 1, 2],
      scale: spec.scale,
      mean: spec.mean,
      std: spec.std,
    };
    // A 256×1 image holding every level in every channel (shifted per channel so a channel mix-up shows).
    const data = Uint8Array.from({ length: 768 }, (_, i) => (Math.floor(i / 3) + 85 * (i % 3)) & 255);
    const got = new Float32Array(768);
    const want = new Float32Array(768);
    normaliseInto(want, 0, { data, width: 256, height: 1 }, spec);
    const region = { left: 0, top: 0, width: 256, height: 1 };
    if (wasmResampleNormalise(got, 0, data, 256, 1, 256, 1, region, candidate)) {
      const a = new Uint32Array(got.buffer);
      const b = new Uint32Array(want.buffer);
      if (a.every((v, i) => v === b[i])) fused = candidate;
    }
  }
  fusedCache.set(spec, fused);
  return fused;
}

/** Resize, crop and normalise into target[offset…]: fused in the kernel when it can, else the JS steps. */
function resizeNormaliseInto(
  target: Float32Array,
  offset: number,
  rgb: Uint8Array,
  width: number,
  height: number,
  spec: PreprocessSpec,
  plan: Plan,
): void {
  const { resized, output, x, y } = plan;
  // A crop larger than the image (zero padding) takes the two-step path: rare, and the padding is normalised too.
  if (x.count === output.width && y.count === output.height) {
    const fused = fusedNormalisation(spec);
    const region = { left: x.srcStart, top: y.srcStart, width: x.count, height: y.count };
    if (
      fused &&
      wasmResampleNormalise(target, offset, rgb, width, height, resized.width, resized.height, region, fused)
    )
      return;
  }
  normaliseInto(target, offset, resizeAndCropPlanned(rgb, width, height, spec, plan), spec);
}

function checkTarget(target: unknown, offset: unknown, length: number): void {
  if (!(target instanceof Float32Array)) throw invalid('target', 'a Float32Array', target);
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0 || offset + length > target.length) {
    throw invalid(
      'offset',
      `an integer between 0 and ${target.length - length} (the image needs ${length} values)`,
      offset,
    );
  }
}

function checkRgb(rgb: unknown, width: unknown, height: unknown): void {
  if (!(rgb instanceof Uint8Array)) throw invalid('rgb', 'a Uint8Array', rgb);
  if (typeof width !== 'number' || !Number.isInteger(width) || width < 1)
    throw invalid('width', 'a positive integer', width);
  if (typeof height !== 'number' || !Number.isInteger(height) || height < 1)
    throw invalid('height', 'a positive integer', height);
  if (rgb.length !== width * height * 3)
    throw invalid('rgb.length', `width × height × 3 = ${width * height * 3}`, rgb.length);
}

/** Decoded RGB → tensor written into target at offset (no allocation of the output). */
export function preprocessDecodedInto(
  target: Float32Array,
  offset: number,
  rgb: Uint8Array,
  width: number,
  height: number,
  spec: PreprocessSpec,
): void {
  validateSpec(spec);
  checkRgb(rgb, width, height);
  const plan = planGeometry(spec, width, height);
  checkTarget(target, offset, 3 * plan.output.width * plan.output.height);
  resizeNormaliseInto(target, offset, rgb, width, height, spec, plan);
}

/** Decoded RGB → a new tensor (3 × H × W or H × W × 3 per spec.layout). */
export function preprocessDecoded(rgb: Uint8Array, width: number, height: number, spec: PreprocessSpec): Float32Array {
  validateSpec(spec);
  checkRgb(rgb, width, height);
  const plan = planGeometry(spec, width, height);
  const out = new Float32Array(3 * plan.output.width * plan.output.height);
  resizeNormaliseInto(out, 0, rgb, width, height, spec, plan);
  return out;
}

/** Result of preprocessing one encoded image. */
export interface Preprocessed {
  tensor: Float32Array;
  width: number;
  height: number;
  /** Size of the decoded image (after EXIF orientation when applied). */
  source: { width: number; height: number; format: string };
}

function asBuffer(bytes: unknown): Buffer {
  if (Buffer.isBuffer(bytes)) return bytes;
  if (bytes instanceof Uint8Array) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  throw invalid('bytes', 'a Buffer', bytes);
}

async function decodeChecked(bytes: Buffer, opts: TransformOptions): Promise<DecodedImage> {
  const buf = asBuffer(bytes);
  validateTransformOptions(opts);
  return decodeImage(buf, { exif: opts.exif, maxPixels: opts.maxPixels });
}

/**
 * Encoded image → tensor plus sizes. Decode failures throw ImageDecodeError with a short reason. `reuse`, a spent
 * tensor of the right length, is overwritten (every element) instead of allocating 600 KB per photo (the pool
 * recycles the tensors its caller has copied into a batch); of another length it is ignored.
 */
export async function preprocessDetailed(
  bytes: Buffer,
  opts: TransformOptions,
  reuse?: Float32Array,
): Promise<Preprocessed> {
  const decoded = await decodeChecked(bytes, opts);
  const plan = planGeometry(opts.spec, decoded.width, decoded.height);
  const length = 3 * plan.output.width * plan.output.height;
  const tensor = reuse && reuse.length === length ? reuse : new Float32Array(length);
  resizeNormaliseInto(tensor, 0, decoded.data, decoded.width, decoded.height, opts.spec, plan);
  return {
    tensor,
    ...plan.output,
    source: { width: decoded.width, height: decoded.height, format: decoded.info.format },
  };
}

/** Encoded image → tensor (3 × H × W or H × W × 3 per spec.layout). */
export async function preprocess(bytes: Buffer, opts: TransformOptions): Promise<Float32Array> {
  return (await preprocessDetailed(bytes, opts)).tensor;
}

/** Encoded image → tensor written into target at offset, for filling a batch without copies. */
export async function preprocessInto(
  target: Float32Array,
  offset: number,
  bytes: Buffer,
  opts: TransformOptions,
): Promise<void> {
  const decoded = await decodeChecked(bytes, opts);
  const plan = planGeometry(opts.spec, decoded.width, decoded.height);
  checkTarget(target, offset, 3 * plan.output.width * plan.output.height);
  resizeNormaliseInto(target, offset, decoded.data, decoded.width, decoded.height, opts.spec, plan);
}
