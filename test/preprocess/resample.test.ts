import {
  bilinearCoefficients,
  centerCropAxis,
  planGeometry,
  resampleRegion,
  resize,
  roundHalfEven,
  shorterSideSize,
  TORCHVISION_IMAGENET,
} from '../../src/preprocess';

const ONE = 1 << 22;

describe('Pillow bilinear coefficients', () => {
  test('4 → 2 (downscale): the triangle widens to support 2, weights 3/7, 3/7, 1/7 in 22-bit fixed point', () => {
    const { ksize, bounds, weights } = bilinearCoefficients(4, 2);
    expect(ksize).toBe(5);
    expect(Array.from(bounds)).toEqual([0, 3, 1, 3]);
    // round(3/7 · 2^22) = 1797559, round(1/7 · 2^22) = 599186: they add up to exactly 2^22.
    expect(Array.from(weights.subarray(0, 3))).toEqual([1797559, 1797559, 599186]);
    expect(Array.from(weights.subarray(5, 8))).toEqual([599186, 1797559, 1797559]);
  });

  test('2 → 4 (upscale): support stays 1, the edges copy and the middle mixes 3:1', () => {
    const { bounds, weights, ksize } = bilinearCoefficients(2, 4);
    expect(ksize).toBe(3);
    expect(Array.from(bounds)).toEqual([0, 1, 0, 2, 0, 2, 1, 1]);
    expect(weights[0]).toBe(ONE);
    expect([weights[3], weights[4]]).toEqual([ONE * 0.75, ONE * 0.25]);
    expect([weights[6], weights[7]]).toEqual([ONE * 0.25, ONE * 0.75]);
  });

  test('a window of the coefficients equals the same rows of the full table', () => {
    const full = bilinearCoefficients(703, 256);
    const part = bilinearCoefficients(703, 256, 16, 224);
    expect(Array.from(part.bounds)).toEqual(Array.from(full.bounds.subarray(32, 32 + 448)));
    expect(Array.from(part.weights)).toEqual(Array.from(full.weights.subarray(16 * full.ksize, 240 * full.ksize)));
  });
});

describe('Pillow-exact resampling on hand-checked images', () => {
  test('one row 10,20,30,40 → 2 pixels: 17 and 33 with Pillow fixed point', () => {
    const out = resize(Uint8Array.from([10, 20, 30, 40]), 4, 1, 1, 2, 1, 'bilinear');
    // exact values 120/7 = 17.14 and 230/7 = 32.86
    expect(Array.from(out)).toEqual([17, 33]);
  });

  test('the vertical pass gives the same numbers on a column', () => {
    expect(Array.from(resize(Uint8Array.from([10, 20, 30, 40]), 1, 4, 1, 1, 2, 'bilinear'))).toEqual([17, 33]);
  });

  test('upscaling 0,100 → 0,25,75,100', () => {
    expect(Array.from(resize(Uint8Array.from([0, 100]), 2, 1, 1, 4, 1, 'bilinear'))).toEqual([0, 25, 75, 100]);
  });

  test('three channels are resampled independently', () => {
    // Every channel varies (a constant channel comes out constant under any rounding, so it would hide a bug) and the
    // values give fractional sums that round both ways: each channel must equal its own 1-channel resize.
    const width = 7;
    const height = 5;
    const plane = (c: number): Uint8Array =>
      Uint8Array.from({ length: width * height }, (_, i) => (i * (37 + 22 * c) + 11 * c * c + 3) % 256);
    const planes = [0, 1, 2].map(plane);
    const rgb = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = planes[c][i];
    for (const [ow, oh] of [
      [3, 2], // downscale both axes
      [11, 8], // upscale both axes
      [4, 5], // horizontal pass only
    ]) {
      const out = resize(rgb, width, height, 3, ow, oh, 'bilinear');
      const single = planes.map((p) => resize(p, width, height, 1, ow, oh, 'bilinear'));
      const interleaved = new Uint8Array(ow * oh * 3);
      for (let i = 0; i < ow * oh; i++) for (let c = 0; c < 3; c++) interleaved[i * 3 + c] = single[c][i];
      expect(Array.from(out)).toEqual(Array.from(interleaved));
      expect(new Set(out).size).toBeGreaterThan(ow * oh); // varied values, not a few constants
    }
    // The 1-channel path itself, by hand: 4 → 2 weights 3/7, 3/7, 1/7 (see above).
    const r = resize(Uint8Array.from([10, 20, 30, 40]), 4, 1, 1, 2, 1, 'bilinear');
    const g = resize(Uint8Array.from([0, 100, 200, 50]), 4, 1, 1, 2, 1, 'bilinear');
    const b = resize(Uint8Array.from([255, 7, 130, 64]), 4, 1, 1, 2, 1, 'bilinear');
    expect([...r, ...g, ...b]).toEqual([17, 33, 71, 121, 131, 84]); // 130.86 → 131, 84.14 → 84
    const mixed = Uint8Array.from([10, 0, 255, 20, 100, 7, 30, 200, 130, 40, 50, 64]);
    expect(Array.from(resize(mixed, 4, 1, 3, 2, 1, 'bilinear'))).toEqual([17, 71, 131, 33, 121, 84]);
  });

  test('same size is an exact copy (Pillow skips both passes)', () => {
    const src = Uint8Array.from({ length: 5 * 4 * 3 }, (_, i) => (i * 37) % 256);
    expect(Array.from(resize(src, 5, 4, 3, 5, 4, 'bilinear'))).toEqual(Array.from(src));
    expect(Array.from(resize(src, 5, 4, 3, 5, 4, 'nearest'))).toEqual(Array.from(src));
  });

  test('an axis that keeps its size is passed through untouched', () => {
    // 2 columns × 4 rows → 2 × 2: each column is resampled on its own, exactly as a 1-D column.
    const src = Uint8Array.from([10, 0, 20, 100, 30, 200, 40, 50]);
    expect(Array.from(resize(src, 2, 4, 1, 2, 2, 'bilinear'))).toEqual([17, 71, 33, 121]);
    const col1 = resize(Uint8Array.from([0, 100, 200, 50]), 1, 4, 1, 1, 2, 'bilinear');
    expect(Array.from(col1)).toEqual([71, 121]); // 500/7 = 71.4, 850/7 = 121.4
  });

  test('nearest follows Pillow: 3 → 2 samples source 0 and 2; 2 → 4 repeats each pixel', () => {
    expect(Array.from(resize(Uint8Array.from([1, 2, 3]), 3, 1, 1, 2, 1, 'nearest'))).toEqual([1, 3]);
    expect(Array.from(resize(Uint8Array.from([1, 2]), 2, 1, 1, 4, 1, 'nearest'))).toEqual([1, 1, 2, 2]);
  });

  test('a region equals the same window cut from the full resize', () => {
    const w = 37;
    const h = 23;
    const src = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 7919) % 251);
    for (const filter of ['bilinear', 'nearest'] as const) {
      const full = resize(src, w, h, 3, 61, 17, filter);
      const region = { left: 5, top: 3, width: 40, height: 11 };
      const part = resampleRegion(src, w, h, 3, 61, 17, filter, region);
      const expected: number[] = [];
      for (let y = 0; y < region.height; y++) {
        const start = ((region.top + y) * 61 + region.left) * 3;
        expected.push(...full.subarray(start, start + region.width * 3));
      }
      expect(Array.from(part)).toEqual(expected);
    }
  });
});

describe('torchvision size and crop arithmetic', () => {
  test('Python round: ties to even', () => {
    expect([0.5, 1.5, 2.5, 3.5, 15.5, 16.5, 615.5, 2].map(roundHalfEven)).toEqual([0, 2, 2, 4, 16, 16, 616, 2]);
  });

  test('Resize(256): the shorter side becomes 256, the longer one is truncated', () => {
    expect(shorterSideSize(100, 100, 256)).toEqual({ width: 256, height: 256 });
    expect(shorterSideSize(307, 54, 256)).toEqual({ width: 1455, height: 256 }); // 1455.4
    expect(shorterSideSize(236, 396, 256)).toEqual({ width: 256, height: 429 }); // 429.56 → 429
    expect(shorterSideSize(1024, 703, 256)).toEqual({ width: 372, height: 256 }); // 372.89 → 372
  });

  test('CenterCrop offsets round half to even; a crop larger than the image pads (crop − size) // 2 first', () => {
    expect(centerCropAxis(256, 224)).toEqual({ srcStart: 16, dstStart: 0, count: 224 });
    expect(centerCropAxis(255, 224)).toEqual({ srcStart: 16, dstStart: 0, count: 224 }); // 15.5 → 16
    expect(centerCropAxis(257, 224)).toEqual({ srcStart: 16, dstStart: 0, count: 224 }); // 16.5 → 16
    expect(centerCropAxis(64, 80)).toEqual({ srcStart: 0, dstStart: 8, count: 64 });
    expect(centerCropAxis(63, 80)).toEqual({ srcStart: 0, dstStart: 8, count: 63 });
  });

  test('a plan for the ImageNet spec', () => {
    expect(planGeometry(TORCHVISION_IMAGENET, 307, 54)).toEqual({
      resized: { width: 1455, height: 256 },
      output: { width: 224, height: 224 },
      x: { srcStart: 616, dstStart: 0, count: 224 },
      y: { srcStart: 16, dstStart: 0, count: 224 },
    });
  });
});
