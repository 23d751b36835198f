/**
 * Why convfeat resamples in TypeScript: sharp's own resize (libvips), given torchvision's exact output size and crop
 * offsets, against torchvision's Resize(256) + CenterCrop(224). The reference is convfeat's Pillow-exact pipeline,
 * which parity-all.ts shows byte-identical to torchvision on every Mini Natural Images photo.
 *
 * Usage: node <compiled>/bench/preprocess/sharp-vs-pil.js [N=200]
 */
import * as fs from 'fs';
import * as path from 'path';
import sharp, { type KernelEnum } from 'sharp';
import { decodeImage, planGeometry, resizeAndCrop, TORCHVISION_IMAGENET } from '../../src/preprocess';
import { intArg, runMain } from '../extract/common';
import { DATA_ROOT, samplePhotos } from './common';

async function sharpOnly(bytes: Buffer, kernel: keyof KernelEnum): Promise<Uint8Array> {
  const meta = await sharp(bytes).metadata();
  const plan = planGeometry(TORCHVISION_IMAGENET, meta.width!, meta.height!);
  const { data } = await sharp(bytes, { ignoreIcc: true })
    .resize(plan.resized.width, plan.resized.height, { kernel, fit: 'fill', fastShrinkOnLoad: false })
    .extract({ left: plan.x.srcStart, top: plan.y.srcStart, width: 224, height: 224 })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return data;
}

async function main(): Promise<void> {
  const n = intArg('N (first argument)', process.argv[2], 200);
  const files = samplePhotos(n);
  for (const kernel of ['linear', 'cubic', 'lanczos3'] as const) {
    let sum = 0;
    let count = 0;
    let differing = 0;
    let max = 0;
    let upscaled = 0;
    let sumUp = 0;
    let countUp = 0;
    for (const rel of files) {
      const bytes = fs.readFileSync(path.join(DATA_ROOT, rel));
      const decoded = await decodeImage(bytes, { exif: 'ignore' });
      const ref = resizeAndCrop(decoded.data, decoded.width, decoded.height, TORCHVISION_IMAGENET).data;
      const got = await sharpOnly(bytes, kernel);
      const up = Math.min(decoded.width, decoded.height) < 256;
      if (up) upscaled++;
      for (let i = 0; i < ref.length; i++) {
        const d = Math.abs(ref[i] - got[i]);
        sum += d;
        if (d) differing++;
        if (d > max) max = d;
        if (up) sumUp += d;
      }
      count += ref.length;
      if (up) countUp += ref.length;
    }
    const mean = sum / count;
    console.log(
      `sharp kernel '${kernel}': mean |Δ| ${mean.toFixed(2)} levels (${(mean / 255).toFixed(4)} in [0,1] units), ` +
        `max ${max}, ${((100 * differing) / count).toFixed(1)} % of values differ; ` +
        `upscaled photos (${upscaled}/${files.length}) mean |Δ| ${(sumUp / Math.max(1, countUp)).toFixed(2)}`,
    );
  }
  console.log(`convfeat (Pillow-exact resampling in TypeScript): mean |Δ| 0, max 0 — see parity-all.ts`);
}

runMain(main);
