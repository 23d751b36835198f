/**
 * Joint HSV colour histogram (Swain & Ballard, "Color Indexing", IJCV 1991): the classic global colour feature.
 * Hue is binned circularly and finer than saturation and value, as colour matters more than shading for what an
 * object is. The histogram is L1-normalised and square-rooted (the Hellinger map), so a linear classifier on it
 * behaves like a Bhattacharyya-kernel one. Counting pixels ignores where they are: the feature is unchanged by flips
 * and rotations of the image, which the tests check.
 */

export interface ColorHistParams {
  hue: number;
  saturation: number;
  value: number;
}

export const COLOR_HIST_DEFAULT: ColorHistParams = { hue: 16, saturation: 4, value: 4 };

export function colorHistDimension(p: ColorHistParams = COLOR_HIST_DEFAULT): number {
  return p.hue * p.saturation * p.value;
}

/** Histogram of one interleaved RGB image (values 0–255, n pixels) into `out` at `offset`. */
export function colorHistogram(
  rgb: Float32Array,
  pixels: number,
  out: Float32Array,
  offset = 0,
  p: ColorHistParams = COLOR_HIST_DEFAULT,
): void {
  const counts = new Float64Array(colorHistDimension(p));
  for (let i = 0; i < pixels; i++) {
    const r = rgb[i * 3]!;
    const g = rgb[i * 3 + 1]!;
    const b = rgb[i * 3 + 2]!;
    const max = Math.max(r, g, b);
    const min = Math.min(r, g, b);
    const delta = max - min;
    let h = 0; // degrees; grey pixels (delta 0) have no hue: bin 0, like OpenCV
    if (delta > 0) {
      if (max === r) h = 60 * (((g - b) / delta) % 6);
      else if (max === g) h = 60 * ((b - r) / delta + 2);
      else h = 60 * ((r - g) / delta + 4);
      if (h < 0) h += 360;
    }
    const s = max > 0 ? delta / max : 0;
    const v = max / 255;
    const hb = Math.min(p.hue - 1, Math.floor((h / 360) * p.hue));
    const sb = Math.min(p.saturation - 1, Math.floor(s * p.saturation));
    const vb = Math.min(p.value - 1, Math.floor(v * p.value));
    counts[(hb * p.saturation + sb) * p.value + vb] += 1;
  }
  const total = pixels > 0 ? pixels : 1;
  for (let k = 0; k < counts.length; k++) out[offset + k] = Math.sqrt(counts[k]! / total);
}
