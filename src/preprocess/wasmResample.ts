/**
 * Pillow-exact bilinear resampling of RGB images (and the fused torch normalisation) on the WebAssembly SIMD kernel
 * of ./assembly/kernel.ts: the same integers as the JS reference in ./resample.ts, 4–5× less CPU per photo
 * (bench/README.md). This module only runs the kernel; whether it may be used at all is decided once, by
 * ./resample.ts (resampleBackend), which checks it against the JS reference first.
 *
 * Memory: one resident instance whose memory grows to the largest image seen, up to RESIDENT_LIMIT; an image that
 * needs more gets a throwaway instance, so one huge photo does not keep its memory for the rest of the process.
 * Beyond MAX_BYTES the callers keep the JS path (undefined / false returned), as they do when growing fails.
 */
import { bilinearKsize, endTap, fillBilinearCoefficients, firstTap, ONE } from './coefficients';
import type { Region } from './resample';
// Build output (git-ignored), written by scripts/build-wasm.mjs: `npm ci` / `npm run build` / the test setup.
import { KERNEL_WASM_BASE64 } from './wasmKernel.generated';

// The little of the WebAssembly JS API used here (lib ES2022 and @types/node 20 do not declare it).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
type WasmModule = object;
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: unknown };
}
const wasmApi = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

interface KernelExports {
  memory: WasmMemory;
  heapBase(): number;
  horizontal(
    src: number,
    srcStride: number,
    rowCount: number,
    bounds: number,
    weights: number,
    ksize: number,
    outCount: number,
    dst: number,
    dstStride: number,
  ): void;
  vertical(
    src: number,
    srcStride: number,
    rowBase: number,
    bounds: number,
    weights: number,
    ksize: number,
    outWidth: number,
    outHeight: number,
    mode: number,
    dstR: number,
    dstG: number,
    dstB: number,
    params: number,
    bgr: number,
  ): void;
}

/** Output modes of the kernel's vertical pass. */
const OUT_U8 = 0;
const OUT_NCHW = 1;
const OUT_NHWC = 2;

const PAGE = 65536;
const SLACK = 64; // the kernel reads and writes up to 47 bytes past a buffer's last row
export const RESIDENT_LIMIT = 64 * 1024 * 1024;
const MAX_BYTES = 1024 * 1024 * 1024;

/** Normalisation of the fused path, in network channel order (what normalisationTable rounds the same way). */
export interface FusedNormalisation {
  layout: 'NCHW' | 'NHWC';
  /** Network channel c reads source channel order[c]. */
  order: readonly [number, number, number];
  scale: number;
  mean: readonly number[];
  std: readonly number[];
}

class Instance {
  readonly exports: KernelExports;
  private readonly base: number;
  u8!: Uint8Array;
  i32!: Int32Array;
  f32!: Float32Array;

  constructor(module: WasmModule) {
    this.exports = new wasmApi!.Instance(module, {}).exports as unknown as KernelExports;
    this.base = this.exports.heapBase();
    this.refresh();
  }

  private refresh(): void {
    const buffer = this.exports.memory.buffer;
    this.u8 = new Uint8Array(buffer);
    this.i32 = new Int32Array(buffer);
    this.f32 = new Float32Array(buffer);
  }

  /** Makes room for `bytes` past the heap base; returns that base, or -1 when the memory cannot grow. */
  reserve(bytes: number): number {
    const memory = this.exports.memory;
    const need = this.base + bytes;
    if (memory.buffer.byteLength < need) {
      try {
        memory.grow(Math.ceil((need - memory.buffer.byteLength) / PAGE));
      } catch {
        return -1; // RangeError: the engine refused; the caller falls back to JS
      }
    }
    if (this.u8.buffer !== memory.buffer) this.refresh();
    return this.base;
  }
}

let compiled: WasmModule | undefined;
let resident: Instance | undefined;
const calls = { u8: 0, fused: 0 };

/**
 * Compiles the kernel (throws when this engine has no WebAssembly SIMD, or the build is broken). Called once, by
 * the backend decision in ./resample.ts.
 */
export function loadKernel(): void {
  if (compiled) return;
  const bytes = Buffer.from(KERNEL_WASM_BASE64, 'base64');
  if (!wasmApi || !wasmApi.validate(bytes))
    throw new Error('this JavaScript engine cannot run WebAssembly with 128-bit SIMD');
  compiled = new wasmApi.Module(bytes);
  resident = new Instance(compiled);
}

/** How often each kernel entry point ran in this thread (tests check that the fast path is the one taken). */
export function kernelCalls(): { u8: number; fused: number } {
  return { ...calls };
}

/** Bytes of the resident instance's memory (0 before the kernel loads): bounded by RESIDENT_LIMIT plus a page. */
export function residentMemoryBytes(): number {
  return resident ? resident.exports.memory.buffer.byteLength : 0;
}

const align = (n: number): number => (n + 15) & ~15;

/** The instance to use for `bytes` of buffers: the resident one, or a throwaway one for a huge image. */
function instanceFor(bytes: number): { inst: Instance; base: number } | undefined {
  if (!compiled || !resident || bytes > MAX_BYTES) return undefined;
  const inst = bytes > RESIDENT_LIMIT ? new Instance(compiled) : resident;
  const base = inst.reserve(bytes);
  return base < 0 ? undefined : { inst, base };
}

interface Staged {
  inst: Instance;
  /** Where the vertical pass reads, and how. */
  vSrc: number;
  vStride: number;
  rowBase: number;
  vBounds: number;
  vWeights: number;
  vKsize: number;
  params: number;
  out: number;
}

/**
 * Copies the image in, writes both coefficient tables and runs the horizontal pass: everything up to the vertical
 * pass, which the callers run in their own output mode. outBytes is the room the output needs (slack added here).
 */
/** The kernel's vertical pass over a staged image into `dst` (one address, or one per NCHW plane) in `mode`. */
function runVertical(
  s: Staged,
  region: Region,
  mode: number,
  dst: readonly [number, number, number],
  bgr: number,
): void {
  s.inst.exports.vertical(
    s.vSrc,
    s.vStride,
    s.rowBase,
    s.vBounds,
    s.vWeights,
    s.vKsize,
    region.width,
    region.height,
    mode,
    dst[0],
    dst[1],
    dst[2],
    s.params,
    bgr,
  );
}

function stage(
  src: Uint8Array,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
  region: Region,
  outBytes: number,
): Staged | undefined {
  const rw = region.width;
  const rh = region.height;
  const needHorizontal = outWidth !== width;
  const needVertical = outHeight !== height;
  const hKsize = needHorizontal ? bilinearKsize(width, outWidth) : 0;
  const vKsize = needVertical ? bilinearKsize(height, outHeight) : 1;

  // Source rows the vertical taps read (all of the region's rows when the height is kept); the taps move forward
  // with the output row, so the first and the last output rows give the span.
  let rowFirst = region.top;
  let rowCount = rh;
  if (needVertical) {
    rowFirst = firstTap(height, outHeight, region.top);
    rowCount = endTap(height, outHeight, region.top + rh - 1) - rowFirst;
  }

  const paramsAt = 0;
  const hBoundsAt = 128;
  const hWeightsAt = hBoundsAt + align(rw * 8);
  const vBoundsAt = hWeightsAt + align(rw * hKsize * 4);
  const vWeightsAt = vBoundsAt + align(rh * 8);
  const srcAt = vWeightsAt + align(rh * vKsize * 4);
  const midAt = srcAt + align(src.length + SLACK);
  const outAt = midAt + (needHorizontal ? align(rowCount * rw * 3 + SLACK) : 0);
  const got = instanceFor(outAt + align(outBytes + SLACK));
  if (!got) return undefined;
  const { inst, base } = got;

  inst.u8.set(src, base + srcAt);
  const i32 = inst.i32;
  if (needVertical) {
    fillBilinearCoefficients(
      height,
      outHeight,
      region.top,
      rh,
      i32,
      (base + vBoundsAt) >> 2,
      i32,
      (base + vWeightsAt) >> 2,
    );
  } else {
    // The height is kept: one tap of weight 2^22 per row gives each byte back unchanged (HALF < 2^22).
    for (let yy = 0; yy < rh; yy++) {
      i32[((base + vBoundsAt) >> 2) + yy * 2] = region.top + yy;
      i32[((base + vBoundsAt) >> 2) + yy * 2 + 1] = 1;
      i32[((base + vWeightsAt) >> 2) + yy] = ONE;
    }
  }
  const staged: Staged = {
    inst,
    vSrc: base + srcAt + region.left * 3,
    vStride: width * 3,
    rowBase: 0,
    vBounds: base + vBoundsAt,
    vWeights: base + vWeightsAt,
    vKsize,
    params: base + paramsAt,
    out: base + outAt,
  };
  if (needHorizontal) {
    fillBilinearCoefficients(
      width,
      outWidth,
      region.left,
      rw,
      i32,
      (base + hBoundsAt) >> 2,
      i32,
      (base + hWeightsAt) >> 2,
    );
    inst.exports.horizontal(
      base + srcAt + rowFirst * width * 3,
      width * 3,
      rowCount,
      base + hBoundsAt,
      base + hWeightsAt,
      hKsize,
      rw,
      base + midAt,
      rw * 3,
    );
    staged.vSrc = base + midAt;
    staged.vStride = rw * 3;
    staged.rowBase = rowFirst;
  }
  return staged;
}

/**
 * `region` of the RGB image resized to outWidth×outHeight (Pillow bilinear), as uint8 RGB: what resampleRegion
 * returns. Undefined when the kernel is not loaded or the image is too large for it.
 */
export function wasmResampleRgb(
  src: Uint8Array,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
  region: Region,
): Uint8Array | undefined {
  const n = region.width * region.height;
  const s = stage(src, width, height, outWidth, outHeight, region, n * 3);
  if (!s) return undefined;
  runVertical(s, region, OUT_U8, [s.out, 0, 0], 0);
  calls.u8++;
  return s.inst.u8.slice(s.out, s.out + n * 3);
}

/**
 * `region` of the RGB image resized (Pillow bilinear), normalised and written into target[offset…] in the given
 * layout and channel order, without the uint8 crop ever leaving the kernel. False (nothing written) when the
 * kernel is not loaded or the image is too large for it.
 */
export function wasmResampleNormalise(
  target: Float32Array,
  offset: number,
  src: Uint8Array,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
  region: Region,
  norm: FusedNormalisation,
): boolean {
  const n = region.width * region.height;
  const planeBytes = align((n + 16) * 4);
  const s = stage(
    src,
    width,
    height,
    outWidth,
    outHeight,
    region,
    norm.layout === 'NCHW' ? 3 * planeBytes : (n * 3 + 48) * 4,
  );
  if (!s) return false;
  const f32 = s.inst.f32;
  const p = s.params >> 2;
  for (let l = 0; l < 4; l++) f32[p + l] = norm.scale;
  if (norm.layout === 'NCHW') {
    // Vectors [mean, std] of the network channel each source channel (R, G, B) feeds, and that channel's plane.
    const planeOf = [0, 0, 0];
    for (let c = 0; c < 3; c++) planeOf[norm.order[c]] = c;
    for (let srcC = 0; srcC < 3; srcC++) {
      const c = planeOf[srcC];
      for (let l = 0; l < 4; l++) {
        f32[p + 4 + srcC * 8 + l] = norm.mean[c];
        f32[p + 8 + srcC * 8 + l] = norm.std[c];
      }
    }
    const plane = (srcC: number) => s.out + planeOf[srcC] * planeBytes;
    runVertical(s, region, OUT_NCHW, [plane(0), plane(1), plane(2)], 0);
    for (let c = 0; c < 3; c++) {
      const at = (s.out + c * planeBytes) >> 2;
      target.set(f32.subarray(at, at + n), offset + c * n);
    }
  } else {
    // Lane patterns: vector k of every 3 covers channels (k, k+1, k+2, k) mod 3.
    for (let k = 0; k < 3; k++) {
      for (let l = 0; l < 4; l++) {
        f32[p + 4 + k * 4 + l] = norm.mean[(k + l) % 3];
        f32[p + 16 + k * 4 + l] = norm.std[(k + l) % 3];
      }
    }
    const bgr = norm.order[0] === 2 ? 1 : 0;
    runVertical(s, region, OUT_NHWC, [s.out, 0, 0], bgr);
    const at = s.out >> 2;
    target.set(f32.subarray(at, at + n * 3), offset);
  }
  calls.fused++;
  return true;
}
