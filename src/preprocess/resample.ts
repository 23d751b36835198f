/**
 * Resizing that reproduces Pillow byte for byte, because torchvision resizes PIL images with Pillow and libvips
 * (sharp) places and weights its samples differently (about 7/255 mean difference on upscaled photos).
 *
 * Bilinear follows Pillow's libImaging/Resample.c (ImagingResampleInner): per-axis coefficient tables with a
 * triangle filter widened by the downscale factor (antialias), normalised and stored as fixed-point integers with
 * 22 fraction bits, a horizontal pass first whose result is rounded and clamped to uint8, then a vertical pass.
 * An axis whose size does not change is skipped, as Pillow does. Nearest follows Pillow's ImagingScaleAffine
 * (Geometry.c), which Image.resize uses for NEAREST, including its accumulated floating-point source positions.
 *
 * Every output pixel depends only on its own coefficients, so a rectangular region of the resized image (the centre
 * crop) can be computed alone and is identical to cropping the full result, which saves the work outside the crop.
 */

import { bilinearCoefficients, ONE, PRECISION_BITS, type AxisCoefficients } from './coefficients';

import { loadKernel, wasmResampleRgb } from './wasmResample';

export { bilinearCoefficients, type AxisCoefficients };

export type ResampleFilter = 'bilinear' | 'nearest';

/** A window of the resized image, in output pixels. */
export interface Region {
  left: number;
  top: number;
  width: number;
  height: number;
}

const HALF = 1 << (PRECISION_BITS - 1);
const CLIP_HIGH = ONE * 256; // (1 << PRECISION_BITS << 8) in Pillow's clip8
// Sums stay in int32 as in Pillow (`| 0` keeps V8 on integer arithmetic): with the bilinear filter's non-negative
// weights summing to 2^22, a sum never exceeds 255 · 2^22 + 2^21 < 2^31.

/** Pillow's clip8: fixed-point sum (rounding half already added) to uint8. */
function clip8(ss: number): number {
  if (ss >= CLIP_HIGH) return 255;
  if (ss <= 0) return 0;
  return ss >> PRECISION_BITS;
}

/**
 * Region `region` of the image (width×height, `channels` interleaved uint8) resized to outWidth×outHeight with
 * Pillow's bilinear (antialiased) filter. Returns region.width×region.height×channels uint8.
 */
function resampleBilinear(
  src: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
  region: Region,
): Uint8Array {
  const needHorizontal = outWidth !== width;
  const needVertical = outHeight !== height;
  const rw = region.width;
  const rh = region.height;

  // Horizontal pass over only the source rows the region's vertical taps read.
  let rowFirst = region.top;
  let rowCount = rh;
  let vert: AxisCoefficients | undefined;
  if (needVertical) {
    vert = bilinearCoefficients(height, outHeight, region.top, rh);
    rowFirst = vert.bounds[0];
    rowCount = vert.bounds[(rh - 1) * 2] + vert.bounds[(rh - 1) * 2 + 1] - rowFirst;
  }

  let mid: Uint8Array; // rowCount rows × rw columns
  const midStride = rw * channels;
  if (needHorizontal) {
    const { ksize, bounds, weights } = bilinearCoefficients(width, outWidth, region.left, rw);
    mid = new Uint8Array(rowCount * midStride);
    const srcStride = width * channels;
    for (let r = 0; r < rowCount; r++) {
      const srcRow = (rowFirst + r) * srcStride;
      const dstRow = r * midStride;
      if (channels === 3) {
        // The common case, unrolled over channels as Pillow does (one pass over the taps for R, G and B).
        for (let xx = 0, d = dstRow; xx < rw; xx++, d += 3) {
          const taps = bounds[xx * 2 + 1];
          const kOff = xx * ksize;
          let p = srcRow + bounds[xx * 2] * 3;
          let s0 = HALF;
          let s1 = HALF;
          let s2 = HALF;
          for (let x = 0; x < taps; x++, p += 3) {
            const w = weights[kOff + x];
            s0 = (s0 + src[p] * w) | 0;
            s1 = (s1 + src[p + 1] * w) | 0;
            s2 = (s2 + src[p + 2] * w) | 0;
          }
          mid[d] = clip8(s0);
          mid[d + 1] = clip8(s1);
          mid[d + 2] = clip8(s2);
        }
        continue;
      }
      for (let xx = 0; xx < rw; xx++) {
        const xmin = bounds[xx * 2];
        const taps = bounds[xx * 2 + 1];
        const kOff = xx * ksize;
        for (let c = 0; c < channels; c++) {
          let ss = HALF;
          let p = srcRow + xmin * channels + c;
          for (let x = 0; x < taps; x++, p += channels) ss += src[p] * weights[kOff + x];
          mid[dstRow + xx * channels + c] = clip8(ss);
        }
      }
    }
  } else {
    // Same width: the rows pass through untouched, only the region's columns are kept.
    mid = new Uint8Array(rowCount * midStride);
    const srcStride = width * channels;
    for (let r = 0; r < rowCount; r++) {
      const start = (rowFirst + r) * srcStride + region.left * channels;
      mid.set(src.subarray(start, start + midStride), r * midStride);
    }
  }

  if (!vert) return mid;

  const out = new Uint8Array(rh * midStride);
  const { ksize, bounds, weights } = vert;
  for (let yy = 0; yy < rh; yy++) {
    const base = (bounds[yy * 2] - rowFirst) * midStride;
    const taps = bounds[yy * 2 + 1];
    const kOff = yy * ksize;
    const dst = yy * midStride;
    if (taps === 2 || taps === 3) {
      // Upscaling (most photos here) reads two or three rows: keep their weights in registers.
      const w0 = weights[kOff];
      const w1 = weights[kOff + 1];
      const w2 = taps === 3 ? weights[kOff + 2] : 0;
      const r1 = base + midStride;
      const r2 = taps === 3 ? base + 2 * midStride : base; // w2 = 0 makes the third row a no-op for two taps
      for (let i = 0; i < midStride; i++) {
        out[dst + i] = clip8((HALF + mid[base + i] * w0 + mid[r1 + i] * w1 + mid[r2 + i] * w2) | 0);
      }
      continue;
    }
    for (let i = 0; i < midStride; i++) {
      let ss = HALF;
      for (let y = 0, p = base + i; y < taps; y++, p += midStride) ss = (ss + mid[p] * weights[kOff + y]) | 0;
      out[dst + i] = clip8(ss);
    }
  }
  return out;
}

/**
 * Pillow's ImagingScaleAffine source positions for one axis: the position is accumulated (xo += step) rather than
 * recomputed, and that accumulation is reproduced because it decides ties. -1 marks a position outside the image.
 */
function nearestIndices(inSize: number, outSize: number): Int32Array {
  const step = inSize / outSize;
  const table = new Int32Array(outSize);
  let xo = step * 0.5;
  for (let x = 0; x < outSize; x++) {
    const xin = xo < 0 ? -1 : Math.trunc(xo);
    table[x] = xin >= 0 && xin < inSize ? xin : -1;
    xo += step;
  }
  return table;
}

function resampleNearest(
  src: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
  region: Region,
): Uint8Array {
  const xs = nearestIndices(width, outWidth);
  const ys = nearestIndices(height, outHeight);
  const out = new Uint8Array(region.width * region.height * channels); // Pillow fills with 0 (fill=1)
  const srcStride = width * channels;
  for (let yy = 0; yy < region.height; yy++) {
    const yi = ys[region.top + yy];
    if (yi < 0) continue;
    const dstRow = yy * region.width * channels;
    for (let xx = 0; xx < region.width; xx++) {
      const xi = xs[region.left + xx];
      if (xi < 0) continue;
      const s = yi * srcStride + xi * channels;
      const d = dstRow + xx * channels;
      for (let c = 0; c < channels; c++) out[d + c] = src[s + c];
    }
  }
  return out;
}

/**
 * The JS reference of resampleRegion: always this implementation, whatever the backend (tests and benchmarks
 * compare the WebAssembly kernel against it).
 */
export function resampleRegionJs(
  src: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
  filter: ResampleFilter,
  region: Region = { left: 0, top: 0, width: outWidth, height: outHeight },
): Uint8Array {
  if (outWidth === width && outHeight === height) {
    // Pillow copies when the size is unchanged, for every filter.
    const out = new Uint8Array(region.width * region.height * channels);
    const stride = region.width * channels;
    for (let r = 0; r < region.height; r++) {
      const start = ((region.top + r) * width + region.left) * channels;
      out.set(src.subarray(start, start + stride), r * stride);
    }
    return out;
  }
  return filter === 'nearest'
    ? resampleNearest(src, width, height, channels, outWidth, outHeight, region)
    : resampleBilinear(src, width, height, channels, outWidth, outHeight, region);
}

/** Which implementation runs bilinear RGB resampling in this thread, and why not the fast one. */
export interface ResampleBackend {
  kind: 'wasm-simd' | 'js';
  /** Why the WebAssembly SIMD kernel is not used (kind 'js' only). */
  reason?: string;
}

let backend: ResampleBackend | undefined;

/** Bilinear cases the self-check runs: up and down, odd sizes, a region, a kept axis, a wide antialias filter. */
const SELF_CHECK: [number, number, number, number, Region?][] = [
  [7, 5, 19, 11],
  [23, 17, 5, 3, { left: 1, top: 1, width: 3, height: 2 }],
  [9, 4, 9, 13],
  [40, 3, 3, 3],
];

/**
 * Decided once per thread: the WebAssembly SIMD kernel when it loads and reproduces this reference on a few small
 * images (a deterministic pattern), else this JS with the reason. Never a silent difference in output: either
 * every bilinear RGB call goes to the kernel or none does.
 */
export function resampleBackend(): ResampleBackend {
  if (backend) return backend;
  try {
    loadKernel();
    for (const [w, h, ow, oh, region] of SELF_CHECK) {
      const src = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 97 + ((i * i) >> 3)) & 255);
      const r = region ?? { left: 0, top: 0, width: ow, height: oh };
      const fast = wasmResampleRgb(src, w, h, ow, oh, r);
      const ref = resampleRegionJs(src, w, h, 3, ow, oh, 'bilinear', r);
      if (!fast || fast.length !== ref.length || fast.some((v, i) => v !== ref[i]))
        throw new Error(`the kernel's ${w}×${h} → ${ow}×${oh} resize differs from the JS reference`);
    }
    backend = { kind: 'wasm-simd' };
  } catch (e) {
    backend = { kind: 'js', reason: e instanceof Error ? e.message : String(e) };
  }
  return backend;
}

/**
 * The `region` of `src` (width×height×channels, interleaved uint8) resized to outWidth×outHeight exactly as
 * Pillow's Image.resize((outWidth, outHeight), filter) would produce it. Inputs are trusted: callers validate.
 * Bilinear RGB goes to the WebAssembly SIMD kernel (same bytes, less CPU) when resampleBackend() allows it.
 */
export function resampleRegion(
  src: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
  filter: ResampleFilter,
  region: Region = { left: 0, top: 0, width: outWidth, height: outHeight },
): Uint8Array {
  if (
    filter === 'bilinear' &&
    channels === 3 &&
    (outWidth !== width || outHeight !== height) &&
    region.width > 0 &&
    region.height > 0 &&
    resampleBackend().kind === 'wasm-simd'
  ) {
    const fast = wasmResampleRgb(src, width, height, outWidth, outHeight, region);
    if (fast) return fast;
  }
  return resampleRegionJs(src, width, height, channels, outWidth, outHeight, filter, region);
}

/** The whole image resized, as Pillow's Image.resize. */
export function resize(
  src: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
  filter: ResampleFilter,
): Uint8Array {
  return resampleRegion(src, width, height, channels, outWidth, outHeight, filter);
}
