/**
 * Resize + crop + normalise of real photos: the JS reference (resampleRegionJs, then normaliseInto through the
 * lookup table) against the WebAssembly SIMD kernel (uint8 resize, and resize fused with normalisation, which is
 * what preprocessing runs). Photos are decoded once beforehand (decode is not measured). Each pass runs every
 * variant over all photos, interleaved, and checks that the kernel's bytes and float bits equal the reference's;
 * the figure is the median over passes of CPU ms per photo.
 *
 * Usage: node bench/out/js/bench/preprocess/resample-simd.js [--per-class 50] [--passes 5] [--split train]
 */
import * as fs from 'fs';
import * as path from 'path';
import {
  decodeImage,
  normaliseInto,
  planGeometry,
  preprocessDecodedInto,
  resampleRegion,
  TORCHVISION_IMAGENET,
  type DecodedImage,
} from '../../src/preprocess';
import { resampleBackend, resampleRegionJs } from '../../src/preprocess/resample';
import { kernelCalls } from '../../src/preprocess/wasmResample';
import { BenchUsageError, flag, intFlag, machineLine, median, runMain } from '../extract/common';
import { DATA_ROOT } from './common';

const SPEC = TORCHVISION_IMAGENET;

function firstPerClass(splitDir: string, k: number): string[] {
  if (!fs.existsSync(splitDir)) throw new BenchUsageError(`no photos at ${splitDir} (set CONVFEAT_DATA)`);
  const out: string[] = [];
  for (const cls of fs.readdirSync(splitDir).sort()) {
    const dir = path.join(splitDir, cls);
    if (!fs.statSync(dir).isDirectory()) continue;
    const files = fs
      .readdirSync(dir)
      .filter((f) => /\.jpe?g$/i.test(f))
      .sort();
    out.push(...files.slice(0, k).map((f) => path.join(dir, f)));
  }
  return out;
}

/** CPU ms per photo of fn over every photo (this benchmark is single-threaded: CPU ≈ wall). */
function cpuPerPhoto(images: DecodedImage[], fn: (img: DecodedImage, i: number) => void): number {
  const c0 = process.cpuUsage();
  for (let i = 0; i < images.length; i++) fn(images[i]!, i);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000 / images.length;
}

function region(img: DecodedImage) {
  const plan = planGeometry(SPEC, img.width, img.height);
  const { x, y, resized } = plan;
  return { plan, resized, r: { left: x.srcStart, top: y.srcStart, width: x.count, height: y.count } };
}

async function main(): Promise<void> {
  const perClass = intFlag('per-class', 50);
  const passes = intFlag('passes', 5);
  const split = flag('split') ?? 'train';
  const backend = resampleBackend();
  if (backend.kind !== 'wasm-simd') throw new Error(`the WebAssembly kernel is not in use: ${backend.reason}`);
  const files = firstPerClass(path.join(DATA_ROOT, split), perClass);
  const images: DecodedImage[] = [];
  for (const f of files) images.push(await decodeImage(fs.readFileSync(f), { exif: 'ignore' }));
  const pixels = median(images.map((i) => i.width * i.height));
  const upscaled = images.filter((i) => Math.min(i.width, i.height) < 256).length;
  const length = 3 * 224 * 224;
  const tensorJs = new Float32Array(length);
  const tensorWasm = new Float32Array(length);
  const crops: Uint8Array[] = images.map(() => new Uint8Array(0));

  // Warm-up (JIT, memory growth) and the exactness check on every photo.
  let mismatches = 0;
  for (const img of images) {
    const { resized, r } = region(img);
    const js = resampleRegionJs(img.data, img.width, img.height, 3, resized.width, resized.height, 'bilinear', r);
    const fast = resampleRegion(img.data, img.width, img.height, 3, resized.width, resized.height, 'bilinear', r);
    if (!Buffer.from(js).equals(Buffer.from(fast))) mismatches++;
    normaliseInto(tensorJs, 0, { data: js, width: r.width, height: r.height }, SPEC);
    preprocessDecodedInto(tensorWasm, 0, img.data, img.width, img.height, SPEC);
    if (!Buffer.from(tensorJs.buffer).equals(Buffer.from(tensorWasm.buffer))) mismatches++;
  }
  const fusedBefore = kernelCalls().fused;

  const rows: Record<string, number[]> = {
    'JS resize+crop': [],
    'JS normalise': [],
    'WASM resize+crop (uint8)': [],
    'WASM resize+crop+normalise (fused)': [],
  };
  for (let p = 0; p < passes; p++) {
    rows['JS resize+crop'].push(
      cpuPerPhoto(images, (img, i) => {
        const { resized, r } = region(img);
        crops[i] = resampleRegionJs(img.data, img.width, img.height, 3, resized.width, resized.height, 'bilinear', r);
      }),
    );
    rows['JS normalise'].push(
      cpuPerPhoto(images, (_img, i) => {
        normaliseInto(tensorJs, 0, { data: crops[i]!, width: 224, height: 224 }, SPEC);
      }),
    );
    rows['WASM resize+crop (uint8)'].push(
      cpuPerPhoto(images, (img) => {
        const { resized, r } = region(img);
        resampleRegion(img.data, img.width, img.height, 3, resized.width, resized.height, 'bilinear', r);
      }),
    );
    rows['WASM resize+crop+normalise (fused)'].push(
      cpuPerPhoto(images, (img) => preprocessDecodedInto(tensorWasm, 0, img.data, img.width, img.height, SPEC)),
    );
  }
  if (kernelCalls().fused - fusedBefore !== passes * images.length) throw new Error('the fused kernel did not run');

  console.log(machineLine());
  console.log(
    `${images.length} photos (${perClass} per class of ${split}), median ${pixels} source pixels, ${upscaled} upscaled; ` +
      `kernel output == JS reference on every photo: ${mismatches === 0 ? 'yes' : `NO (${mismatches} differ)`}`,
  );
  const med = Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, median(v)]));
  for (const [k, v] of Object.entries(med))
    console.log(`${k.padEnd(38)} ${v.toFixed(3)} ms/photo CPU (median of ${passes})`);
  const jsTotal = med['JS resize+crop']! + med['JS normalise']!;
  const fused = med['WASM resize+crop+normalise (fused)']!;
  console.log(`JS resize+crop+normalise               ${jsTotal.toFixed(3)} ms/photo CPU`);
  console.log(
    `resize+crop: JS/WASM ${(med['JS resize+crop']! / med['WASM resize+crop (uint8)']!).toFixed(2)}×; ` +
      `resize+crop+normalise: JS/WASM fused ${(jsTotal / fused).toFixed(2)}×`,
  );
  if (mismatches) process.exitCode = 1;
}

runMain(main);
