import * as fs from 'fs';
import {
  KERAS_CAFFE,
  preprocess,
  preprocessDecoded,
  preprocessDecodedInto,
  preprocessDetailed,
  preprocessInto,
  resizeAndCrop,
  tensorLength,
  TORCHVISION_IMAGENET,
  type PreprocessSpec,
} from '../../src/preprocess';
import { UsageError } from '../../src/util/errors';
import { photos } from '../support/data';

const OPTS = { spec: TORCHVISION_IMAGENET, exif: 'ignore' } as const;

describe('normalisation, channel order and layout', () => {
  // A 1×1 image needs no resampling with a spec that neither resizes nor crops.
  const pixel = Uint8Array.from([255, 128, 0]);
  const plain: PreprocessSpec = { ...TORCHVISION_IMAGENET, resize: { mode: 'none' }, crop: undefined };

  test('torchvision: (x/255 − mean)/std per RGB channel, in float32 steps', () => {
    const t = preprocessDecoded(pixel, 1, 1, plain);
    const f = Math.fround;
    const expected = [255, 128, 0].map((v, c) =>
      f(f(f(v / 255) - f(TORCHVISION_IMAGENET.mean[c])) / f(TORCHVISION_IMAGENET.std[c])),
    );
    expect(Array.from(t)).toEqual(expected);
    expect(t[0]).toBeCloseTo((1 - 0.485) / 0.229, 5);
  });

  test('Keras caffe: BGR, 0..255 minus the BGR mean', () => {
    const t = preprocessDecoded(pixel, 1, 1, { ...KERAS_CAFFE, resize: { mode: 'none' }, crop: undefined });
    expect(t[0]).toBeCloseTo(0 - 103.939, 4); // B
    expect(t[1]).toBeCloseTo(128 - 116.779, 4); // G
    expect(t[2]).toBeCloseTo(255 - 123.68, 4); // R
  });

  test('NHWC holds the same numbers as NCHW, interleaved', () => {
    const rgb = Uint8Array.from({ length: 3 * 2 * 3 }, (_, i) => i * 13);
    const chw = preprocessDecoded(rgb, 3, 2, plain);
    const hwc = preprocessDecoded(rgb, 3, 2, { ...plain, layout: 'NHWC' });
    for (let c = 0; c < 3; c++) for (let i = 0; i < 6; i++) expect(hwc[i * 3 + c]).toBe(chw[c * 6 + i]);
  });

  test('padding from a crop larger than the image is normalised zero (black), as torchvision pads then normalises', () => {
    const spec: PreprocessSpec = { ...plain, crop: { height: 3, width: 1 } };
    const t = preprocessDecoded(pixel, 1, 1, spec); // 1 row of image between 1 row of padding above and below
    const zero = preprocessDecoded(Uint8Array.from([0, 0, 0]), 1, 1, plain);
    const px = preprocessDecoded(pixel, 1, 1, plain);
    expect(Array.from(t)).toEqual([zero[0], px[0], zero[0], zero[1], px[1], zero[1], zero[2], px[2], zero[2]]);
  });
});

describe('preprocess on real photos', () => {
  const files = photos('val', 'cat', 3);

  test('one photo → 3×224×224 float32, with its sizes', async () => {
    const result = await preprocessDetailed(fs.readFileSync(files[0]), OPTS);
    expect(result.tensor).toBeInstanceOf(Float32Array);
    expect([result.width, result.height, result.tensor.length]).toEqual([224, 224, 3 * 224 * 224]);
    expect(result.source.format).toBe('jpeg');
    expect(tensorLength(OPTS.spec, result.source.width, result.source.height)).toBe(3 * 224 * 224);
  });

  test('preprocessInto fills a batch at offsets, identical to preprocess, touching nothing else', async () => {
    const n = 3 * 224 * 224;
    const batch = new Float32Array(files.length * n + 1).fill(7);
    await Promise.all(files.map((f, i) => preprocessInto(batch, i * n, fs.readFileSync(f), OPTS)));
    for (let i = 0; i < files.length; i++) {
      const single = await preprocess(fs.readFileSync(files[i]), OPTS);
      expect(Buffer.compare(Buffer.from(batch.buffer, i * n * 4, n * 4), Buffer.from(single.buffer))).toBe(0);
    }
    expect(batch[files.length * n]).toBe(7);
  });

  test("resize without crop keeps torchvision's resized size", () => {
    const rgb = new Uint8Array(307 * 54 * 3);
    const out = resizeAndCrop(rgb, 307, 54, { ...TORCHVISION_IMAGENET, crop: undefined });
    expect([out.width, out.height]).toEqual([1455, 256]);
  });

  test('Keras spec on a photo is the BGR of the same pixels minus the mean', async () => {
    const bytes = fs.readFileSync(files[1]);
    const caffe = await preprocess(bytes, { spec: KERAS_CAFFE, exif: 'ignore' });
    const tv = await preprocess(bytes, OPTS);
    const n = 224 * 224;
    // Recover the red level from the torchvision tensor and compare with the caffe red plane (channel 2).
    for (const i of [0, 1000, n - 1]) {
      const red = Math.round((tv[i] * 0.229 + 0.485) * 255);
      expect(caffe[2 * n + i]).toBeCloseTo(red - 123.68, 3);
    }
  });
});

describe('door checks', () => {
  test('a bad spec names the field, the value and what was expected', async () => {
    const bad = { spec: { ...TORCHVISION_IMAGENET, resize: { mode: 'longer', size: 256 } }, exif: 'ignore' };
    await expect(preprocess(Buffer.from([1]), bad as never)).rejects.toThrow(
      'Expected preprocessing options.spec.resize.mode to be one of "shorter", "exact", "none" but received "longer"',
    );
    await expect(preprocess(Buffer.from([1]), { ...OPTS, exif: 'auto' } as never)).rejects.toThrow(UsageError);
    await expect(preprocess('x.jpg' as never, OPTS)).rejects.toThrow('Expected bytes to be a Buffer');
    expect(() => preprocessDecoded(new Uint8Array(5), 1, 1, OPTS.spec)).toThrow(
      'Expected rgb.length to be width × height × 3 = 3 but received 5',
    );
    expect(() => preprocessDecoded(new Uint8Array(3), 1, 1, { ...OPTS.spec, std: [1, 0, 1] })).toThrow(
      'Expected preprocessing spec.std[1] to be a positive finite number but received 0',
    );
  });

  test('a target too small for the image is refused', () => {
    const target = new Float32Array(3 * 224 * 224);
    expect(() => preprocessDecodedInto(target, 1, new Uint8Array(300), 10, 10, OPTS.spec)).toThrow(
      /Expected offset to be an integer between 0 and 0 \(the image needs 150528 values\) but received 1/,
    );
  });
});
