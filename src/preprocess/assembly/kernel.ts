/**
 * AssemblyScript source of the WebAssembly SIMD kernel behind src/preprocess/wasmResample.ts: Pillow's
 * bilinear resample of 3-channel images (ImagingResampleInner, 22 fraction bits) and the torch normalisation,
 * fused so that the resized uint8 crop never has to leave registers. Compiled by scripts/build-wasm.mjs (not by
 * tsc: the types below are WebAssembly's). The JS in src/preprocess/resample.ts is the reference: every function
 * here computes exactly its integers, only several lanes at a time.
 *
 * Sums are int32 with wrap-around, like Pillow's and the reference's (`| 0`), so adding the taps in another order or
 * in pairs gives the same bits: modular addition is associative, and the exact sum never leaves int32 anyway.
 *
 * The kernel owns no memory layout: the caller places every buffer (16-byte aligned, each followed by at least
 * 64 bytes of slack, because the loops read and write whole vectors past a row's end; what lands there is either
 * overwritten by the next row or never read back).
 */

const PRECISION_BITS: i32 = 22;
const HALF: i32 = 1 << (PRECISION_BITS - 1);

/** Start of the memory the caller may use (past the stack and any static data). */
export function heapBase(): usize {
  return (__heap_base + 15) & ~15;
}

/**
 * Horizontal pass over rowCount rows of an interleaved RGB image: output pixel xx of a row is the sum over its
 * taps of source pixel (xmin + x) times weight x, rounded and clamped to uint8 (Pillow's clip8). One vector holds
 * the R, G and B sums of one output pixel (the fourth lane is scratch).
 */
export function horizontal(
  src: usize,
  srcStride: i32,
  rowCount: i32,
  bounds: usize,
  weights: usize,
  ksize: i32,
  outCount: i32,
  dst: usize,
  dstStride: i32,
): void {
  const half = i32x4.splat(HALF);
  const kBytes = <usize>ksize << 2;
  for (let r = 0; r < rowCount; r++) {
    const srcRow = src + <usize>r * <usize>srcStride;
    let d = dst + <usize>r * <usize>dstStride;
    let b = bounds;
    let k = weights;
    for (let xx = 0; xx < outCount; xx++) {
      const taps = load<i32>(b, 4);
      let p = srcRow + <usize>load<i32>(b) * 3;
      let acc = half;
      let kw = k;
      // Two taps per iteration keeps two independent multiply chains in flight (upscaling has 2 or 3 taps).
      let x = 0;
      for (; x + 1 < taps; x += 2) {
        const p0 = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(p)));
        const p1 = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(p, 3)));
        const m0 = i32x4.mul(p0, v128.load32_splat(kw));
        const m1 = i32x4.mul(p1, v128.load32_splat(kw, 4));
        acc = i32x4.add(acc, i32x4.add(m0, m1));
        p += 6;
        kw += 8;
      }
      if (x < taps) {
        const p0 = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(p)));
        acc = i32x4.add(acc, i32x4.mul(p0, v128.load32_splat(kw)));
      }
      // clip8: an arithmetic shift, then saturation to 0..255 (a negative sum gives ≤ 0, one ≥ 256·2^22 gives ≥ 256).
      const s = i32x4.shr_s(acc, PRECISION_BITS);
      const n16 = i16x8.narrow_i32x4_s(s, s);
      // Four bytes stored: the fourth is overwritten by the next pixel (or lands in the row's slack).
      v128.store32_lane(d, i8x16.narrow_i16x8_u(n16, n16), 0);
      d += 3;
      b += 8;
      k += kBytes;
    }
  }
}

/** Network values of 16 uint8 levels of one channel: ((v / scale) − mean) / std, each step rounded to float32. */
// @ts-ignore: decorator
@inline
function store16(dst: usize, v: v128, scale: v128, mean: v128, std: v128): void {
  const lo = i16x8.extend_low_i8x16_u(v);
  const hi = i16x8.extend_high_i8x16_u(v);
  v128.store(dst, norm(i32x4.extend_low_i16x8_u(lo), scale, mean, std));
  v128.store(dst, norm(i32x4.extend_high_i16x8_u(lo), scale, mean, std), 16);
  v128.store(dst, norm(i32x4.extend_low_i16x8_u(hi), scale, mean, std), 32);
  v128.store(dst, norm(i32x4.extend_high_i16x8_u(hi), scale, mean, std), 48);
}

// @ts-ignore: decorator
@inline
function norm(v: v128, scale: v128, mean: v128, std: v128): v128 {
  return f32x4.div(f32x4.sub(f32x4.div(f32x4.convert_i32x4_s(v), scale), mean), std);
}

/** The 16 pixels' sums of four lanes each, shifted: 4 vectors of i32 → one of u8 (clip8). */
// @ts-ignore: decorator
@inline
function pack(a: v128, b: v128, c: v128, d: v128): v128 {
  return i8x16.narrow_i16x8_u(
    i16x8.narrow_i32x4_s(i32x4.shr_s(a, PRECISION_BITS), i32x4.shr_s(b, PRECISION_BITS)),
    i16x8.narrow_i32x4_s(i32x4.shr_s(c, PRECISION_BITS), i32x4.shr_s(d, PRECISION_BITS)),
  );
}

export const OUT_U8: i32 = 0;
export const OUT_NCHW: i32 = 1;
export const OUT_NHWC: i32 = 2;

/**
 * Vertical pass: output row yy is the sum over its taps of input rows (ymin + y − rowBase) times weight y, per
 * byte, clip8 — over 48 bytes (16 RGB pixels) per step. Then, by `mode`:
 * - OUT_U8: the uint8 RGB rows, rowBytes = outWidth·3 apart;
 * - OUT_NCHW: float32 planes; `params` holds splatted f32 vectors [scale, meanR, stdR, meanG, stdG, meanB, stdB]
 *   of the network channel each source channel goes to, and dstR/dstG/dstB its plane (rows outWidth apart);
 * - OUT_NHWC: float32 pixels at dstR (rows outWidth·3 apart); params [scale, M0, M1, M2, S0, S1, S2] where Mk/Sk
 *   are the lane patterns of vector k mod 3 (channels 0120, 1201, 2012); bgr swaps R and B of every pixel first.
 * An axis that keeps its size is one tap of weight 2^22, which gives the input byte back unchanged.
 */
export function vertical(
  src: usize,
  srcStride: i32,
  rowBase: i32,
  bounds: usize,
  weights: usize,
  ksize: i32,
  outWidth: i32,
  outHeight: i32,
  mode: i32,
  dstR: usize,
  dstG: usize,
  dstB: usize,
  params: usize,
  bgr: i32,
): void {
  const half = i32x4.splat(HALF);
  const blocks = (outWidth + 15) >> 4;
  const kBytes = <usize>ksize << 2;
  const stride = <usize>srcStride;
  const scale = v128.load(params);
  const p1 = v128.load(params, 16);
  const p2 = v128.load(params, 32);
  const p3 = v128.load(params, 48);
  const p4 = v128.load(params, 64);
  const p5 = v128.load(params, 80);
  const p6 = v128.load(params, 96);
  for (let yy = 0; yy < outHeight; yy++) {
    const b = bounds + (<usize>yy << 3);
    const taps = load<i32>(b, 4);
    const rowStart = src + <usize>(load<i32>(b) - rowBase) * stride;
    const wRow = weights + <usize>yy * kBytes;
    for (let blk = 0; blk < blocks; blk++) {
      let p = rowStart + <usize>blk * 48;
      let a0 = half, a1 = half, a2 = half, a3 = half;
      let b0 = half, b1 = half, b2 = half, b3 = half;
      let c0 = half, c1 = half, c2 = half, c3 = half;
      for (let y = 0; y < taps; y++) {
        const w = v128.load32_splat(wRow + (<usize>y << 2));
        const va = v128.load(p);
        const vb = v128.load(p, 16);
        const vc = v128.load(p, 32);
        let lo = i16x8.extend_low_i8x16_u(va);
        let hi = i16x8.extend_high_i8x16_u(va);
        a0 = i32x4.add(a0, i32x4.mul(i32x4.extend_low_i16x8_u(lo), w));
        a1 = i32x4.add(a1, i32x4.mul(i32x4.extend_high_i16x8_u(lo), w));
        a2 = i32x4.add(a2, i32x4.mul(i32x4.extend_low_i16x8_u(hi), w));
        a3 = i32x4.add(a3, i32x4.mul(i32x4.extend_high_i16x8_u(hi), w));
        lo = i16x8.extend_low_i8x16_u(vb);
        hi = i16x8.extend_high_i8x16_u(vb);
        b0 = i32x4.add(b0, i32x4.mul(i32x4.extend_low_i16x8_u(lo), w));
        b1 = i32x4.add(b1, i32x4.mul(i32x4.extend_high_i16x8_u(lo), w));
        b2 = i32x4.add(b2, i32x4.mul(i32x4.extend_low_i16x8_u(hi), w));
        b3 = i32x4.add(b3, i32x4.mul(i32x4.extend_high_i16x8_u(hi), w));
        lo = i16x8.extend_low_i8x16_u(vc);
        hi = i16x8.extend_high_i8x16_u(vc);
        c0 = i32x4.add(c0, i32x4.mul(i32x4.extend_low_i16x8_u(lo), w));
        c1 = i32x4.add(c1, i32x4.mul(i32x4.extend_high_i16x8_u(lo), w));
        c2 = i32x4.add(c2, i32x4.mul(i32x4.extend_low_i16x8_u(hi), w));
        c3 = i32x4.add(c3, i32x4.mul(i32x4.extend_high_i16x8_u(hi), w));
        p += stride;
      }
      let va = pack(a0, a1, a2, a3);
      let vb = pack(b0, b1, b2, b3);
      let vc = pack(c0, c1, c2, c3);
      const pixel = <usize>yy * <usize>outWidth + (<usize>blk << 4);
      if (mode == OUT_U8) {
        const d = dstR + pixel * 3;
        v128.store(d, va);
        v128.store(d, vb, 16);
        v128.store(d, vc, 32);
      } else if (mode == OUT_NCHW) {
        // Deinterleave RGBRGB… into three planes of 16 levels: two shuffles per plane.
        const r = i8x16.shuffle(
          i8x16.shuffle(va, vb, 0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 0, 0, 0, 0, 0),
          vc, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 17, 20, 23, 26, 29,
        );
        const g = i8x16.shuffle(
          i8x16.shuffle(va, vb, 1, 4, 7, 10, 13, 16, 19, 22, 25, 28, 31, 0, 0, 0, 0, 0),
          vc, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 18, 21, 24, 27, 30,
        );
        const bl = i8x16.shuffle(
          i8x16.shuffle(va, vb, 2, 5, 8, 11, 14, 17, 20, 23, 26, 29, 0, 0, 0, 0, 0, 0),
          vc, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 19, 22, 25, 28, 31,
        );
        const off = pixel << 2;
        store16(dstR + off, r, scale, p1, p2);
        store16(dstG + off, g, scale, p3, p4);
        store16(dstB + off, bl, scale, p5, p6);
      } else {
        if (bgr) {
          // Swap bytes 0 and 2 of every pixel across the three vectors.
          const na = i8x16.shuffle(va, vb, 2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9, 14, 13, 12, 17);
          const nb = i8x16.shuffle(
            i8x16.shuffle(va, vb, 16, 15, 20, 19, 18, 23, 22, 21, 26, 25, 24, 29, 28, 27, 0, 31),
            vc, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 15,
          );
          const nc = i8x16.shuffle(vb, vc, 14, 19, 18, 17, 22, 21, 20, 25, 24, 23, 28, 27, 26, 31, 30, 29);
          va = na;
          vb = nb;
          vc = nc;
        }
        const d = dstR + ((pixel * 3) << 2);
        // Element e of the 48 has channel e mod 3, so vector j (elements 4j…4j+3) uses lane pattern j mod 3.
        let lo = i16x8.extend_low_i8x16_u(va);
        let hi = i16x8.extend_high_i8x16_u(va);
        v128.store(d, norm(i32x4.extend_low_i16x8_u(lo), scale, p1, p4));
        v128.store(d, norm(i32x4.extend_high_i16x8_u(lo), scale, p2, p5), 16);
        v128.store(d, norm(i32x4.extend_low_i16x8_u(hi), scale, p3, p6), 32);
        v128.store(d, norm(i32x4.extend_high_i16x8_u(hi), scale, p1, p4), 48);
        lo = i16x8.extend_low_i8x16_u(vb);
        hi = i16x8.extend_high_i8x16_u(vb);
        v128.store(d, norm(i32x4.extend_low_i16x8_u(lo), scale, p2, p5), 64);
        v128.store(d, norm(i32x4.extend_high_i16x8_u(lo), scale, p3, p6), 80);
        v128.store(d, norm(i32x4.extend_low_i16x8_u(hi), scale, p1, p4), 96);
        v128.store(d, norm(i32x4.extend_high_i16x8_u(hi), scale, p2, p5), 112);
        lo = i16x8.extend_low_i8x16_u(vc);
        hi = i16x8.extend_high_i8x16_u(vc);
        v128.store(d, norm(i32x4.extend_low_i16x8_u(lo), scale, p3, p6), 128);
        v128.store(d, norm(i32x4.extend_high_i16x8_u(lo), scale, p1, p4), 144);
        v128.store(d, norm(i32x4.extend_low_i16x8_u(hi), scale, p2, p5), 160);
        v128.store(d, norm(i32x4.extend_high_i16x8_u(hi), scale, p3, p6), 176);
      }
    }
  }
}
