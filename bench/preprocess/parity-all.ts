/**
 * Dataset-wide parity: our uint8 Resize(256)+CenterCrop(224) against torchvision's, photo by photo, using the digests
 * written by torchvision_hashes.py. Prints how many photos match byte for byte.
 *
 * Usage: node <compiled>/bench/preprocess/parity-all.js DIGESTS.json
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { decodeImage, resizeAndCrop, TORCHVISION_IMAGENET } from '../../src/preprocess';
import { BenchUsageError, runMain } from '../extract/common';
import { DATA_ROOT } from './common';

async function main(): Promise<void> {
  const file = process.argv[2];
  if (!file || !fs.existsSync(file))
    throw new BenchUsageError(
      `Expected DIGESTS.json (from torchvision_hashes.py) as the first argument but received ${JSON.stringify(file)}`,
    );
  const digests = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, string>;
  let same = 0;
  const differ: string[] = [];
  for (const [rel, expected] of Object.entries(digests)) {
    const decoded = await decodeImage(fs.readFileSync(path.join(DATA_ROOT, rel)), { exif: 'ignore' });
    const out = resizeAndCrop(decoded.data, decoded.width, decoded.height, TORCHVISION_IMAGENET);
    const got = createHash('sha256').update(out.data).digest('hex');
    if (got === expected) same++;
    else differ.push(rel);
  }
  console.log(`byte-identical to torchvision: ${same} / ${same + differ.length} photos`);
  if (differ.length) console.log(`differ: ${differ.slice(0, 20).join(', ')}`);
}

runMain(main);
