/**
 * Parity with torchvision on real photos: references made by bench/preprocess/make_fixtures.py with torchvision's
 * Resize(256) + CenterCrop(224) (+ ToTensor + Normalize) on Pillow-decoded images.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import {
  decodeImage,
  preprocess,
  resizeAndCrop,
  TORCHVISION_IMAGENET,
  type PreprocessSpec,
} from '../../src/preprocess';
import { MINI_NATURAL_IMAGES } from '../support/data';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'preprocess');

interface FixturePhoto {
  name: string;
  path: string;
  width: number;
  height: number;
  /** sha256 of torchvision's uint8 H×W×3 crop (byte-identical output ⇔ equal digest). */
  cropSha256: string;
  tensorSha256: string;
  cases: Record<string, { shape: number[]; sha256: string }>;
}
const listing = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'fixtures.json'), 'utf8')) as {
  floatPhoto: string;
  photos: FixturePhoto[];
};

const sha256 = (a: ArrayBufferView) =>
  createHash('sha256')
    .update(Buffer.from(a.buffer, a.byteOffset, a.byteLength))
    .digest('hex');

// The extra cases of the fixture script, as specs.
const CASES: Record<string, PreprocessSpec> = {
  nearest: { ...TORCHVISION_IMAGENET, interpolation: 'nearest' },
  resize_only: { ...TORCHVISION_IMAGENET, crop: undefined },
  exact: { ...TORCHVISION_IMAGENET, resize: { mode: 'exact', height: 150, width: 333 }, crop: undefined },
  pad: { ...TORCHVISION_IMAGENET, resize: { mode: 'shorter', size: 64 }, crop: { height: 80, width: 50 } },
};

async function decodePhoto(p: FixturePhoto) {
  const bytes = fs.readFileSync(path.join(MINI_NATURAL_IMAGES, p.path));
  return decodeImage(bytes, { exif: 'ignore' });
}

describe('torchvision parity on real photos', () => {
  test.each(listing.photos.map((p) => [p.name, p] as const))(
    '%s: uint8 Resize(256)+CenterCrop(224) is byte-identical to torchvision',
    async (_name, p) => {
      const decoded = await decodePhoto(p);
      expect([decoded.width, decoded.height]).toEqual([p.width, p.height]);
      const ours = resizeAndCrop(decoded.data, decoded.width, decoded.height, TORCHVISION_IMAGENET);
      expect([ours.height, ours.width]).toEqual([224, 224]);
      expect(sha256(ours.data)).toBe(p.cropSha256);
    },
  );

  test.each(listing.photos.map((p) => [p.name, p] as const))(
    '%s: the normalised float32 tensor is bit-identical to torchvision',
    async (_name, p) => {
      const tensor = await preprocess(fs.readFileSync(path.join(MINI_NATURAL_IMAGES, p.path)), {
        spec: TORCHVISION_IMAGENET,
        exif: 'ignore',
      });
      expect(tensor.length).toBe(3 * 224 * 224);
      expect(sha256(tensor)).toBe(p.tensorSha256);
    },
  );

  describe.each(Object.keys(CASES))('torchvision case %s', (caseName) => {
    test.each(listing.photos.map((p) => [p.name, p] as const))('%s', async (_name, p) => {
      const decoded = await decodePhoto(p);
      const ours = resizeAndCrop(decoded.data, decoded.width, decoded.height, CASES[caseName]);
      const expected = p.cases[caseName];
      expect([ours.height, ours.width, 3]).toEqual(expected.shape);
      expect(sha256(ours.data)).toBe(expected.sha256);
    });
  });
});
