/**
 * Pillow's bilinear coefficient tables (precompute_coeffs + normalize_coeffs_8bpc in libImaging/Resample.c), shared
 * by the JS resample (the reference) and the WebAssembly SIMD kernel, which reads them from its own memory: one
 * implementation of the rounding rules both must agree on.
 */

export const PRECISION_BITS = 32 - 8 - 2;
export const ONE = 1 << PRECISION_BITS;

/**
 * Coefficients for output positions [first, first + count) of an axis resized from inSize to outSize. bounds holds
 * (xmin, taps) pairs; weights holds ksize fixed-point weights per output.
 */
export interface AxisCoefficients {
  ksize: number;
  bounds: Int32Array;
  weights: Int32Array;
}

function bilinearFilter(x: number): number {
  if (x < 0) x = -x;
  return x < 1 ? 1 - x : 0;
}

/** Taps per output position (the table's row length): the triangle filter widened by the downscale factor. */
export function bilinearKsize(inSize: number, outSize: number): number {
  const scale = inSize / outSize;
  return Math.ceil(scale < 1 ? 1 : scale) * 2 + 1;
}

/** First source position output xx reads (Pillow's xmin). */
export function firstTap(inSize: number, outSize: number, xx: number): number {
  const scale = inSize / outSize;
  const support = scale < 1 ? 1 : scale;
  // C's (int) cast truncates toward zero; a negative start is clamped to 0 right after anyway.
  const xmin = Math.trunc((xx + 0.5) * scale - support + 0.5);
  return xmin < 0 ? 0 : xmin;
}

/** One past the last source position output xx reads (Pillow's xmax before it becomes a count). */
export function endTap(inSize: number, outSize: number, xx: number): number {
  const scale = inSize / outSize;
  const support = scale < 1 ? 1 : scale;
  const xmax = Math.trunc((xx + 0.5) * scale + support + 0.5);
  return xmax > inSize ? inSize : xmax;
}

let scratch = new Float64Array(16);

/**
 * Writes the table for outputs [first, first + count) into bounds[boundsAt…] and weights[weightsAt…] (count · 2 and
 * count · ksize entries; weights past an output's taps are left as they are: no reader uses them). Returns ksize.
 */
export function fillBilinearCoefficients(
  inSize: number,
  outSize: number,
  first: number,
  count: number,
  bounds: Int32Array,
  boundsAt: number,
  weights: Int32Array,
  weightsAt: number,
): number {
  const scale = inSize / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const ksize = bilinearKsize(inSize, outSize);
  if (scratch.length < ksize) scratch = new Float64Array(ksize);
  const k = scratch;
  const ss = 1 / filterscale;
  for (let i = 0; i < count; i++) {
    const xx = first + i;
    const center = (xx + 0.5) * scale;
    const xmin = firstTap(inSize, outSize, xx);
    const xmax = endTap(inSize, outSize, xx) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = bilinearFilter((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    const row = weightsAt + i * ksize;
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0 ? k[x] / ww : k[x];
      // Rounded half away from zero, as normalize_coeffs_8bpc does.
      weights[row + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    bounds[boundsAt + i * 2] = xmin;
    bounds[boundsAt + i * 2 + 1] = xmax;
  }
  return ksize;
}

export function bilinearCoefficients(inSize: number, outSize: number, first = 0, count = outSize): AxisCoefficients {
  const ksize = bilinearKsize(inSize, outSize);
  const bounds = new Int32Array(count * 2);
  const weights = new Int32Array(count * ksize);
  fillBilinearCoefficients(inSize, outSize, first, count, bounds, 0, weights, 0);
  return { ksize, bounds, weights };
}
