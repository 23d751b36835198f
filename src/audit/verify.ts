/**
 * Pixel check of near-duplicate candidates. Embedding cosine alone cannot tell a re-encoded or resized copy from a
 * different photo of the same object: on Mini Natural Images, consecutive frames of a rotating fruit and two
 * portraits of one person score as high as planted copies (bench/README.md, "Audit"). A copy, though, keeps its
 * pixels: both images as 32×32 grey thumbnails, mean removed, unit length, correlate ≥ 0.985 for every planted
 * re-encoded / 75 %-resized / 6 %-cropped copy, while different photos mostly fall well below. The best of four
 * alignments is taken (either image with 6 % cut from each side, or neither), so a slightly cropped copy still lines up.
 */
import sharp from 'sharp';

/** Thumbnail correlation at or above which a candidate pair is the same picture (measured: bench/README.md). */
export const DEFAULT_PIXEL_THRESHOLD = 0.98;
const SIDE = 32;
const CROPS = [0, 0.06];

async function thumbFrom(
  raw: { data: Buffer; width: number; height: number; channels: 1 | 2 | 3 | 4 },
  crop: number,
): Promise<Float64Array> {
  const dx = Math.round(raw.width * crop);
  const dy = Math.round(raw.height * crop);
  const px = await sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } })
    .extract({ left: dx, top: dy, width: Math.max(1, raw.width - 2 * dx), height: Math.max(1, raw.height - 2 * dy) })
    .resize(SIDE, SIDE, { fit: 'fill' })
    .greyscale()
    .raw()
    .toBuffer();
  const v = new Float64Array(SIDE * SIDE);
  const step = px.length / v.length; // greyscale output keeps an alpha channel only if the input had one
  let mean = 0;
  for (let i = 0; i < v.length; i++) mean += v[i] = px[i * step]!;
  mean /= v.length;
  let norm = 0;
  for (let i = 0; i < v.length; i++) {
    v[i] = v[i]! - mean;
    norm += v[i]! * v[i]!;
  }
  const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let i = 0; i < v.length; i++) v[i]! *= inv;
  return v;
}

/** The thumbnails of one file, uncropped and cropped, from one decode (upright by EXIF, alpha on white). */
async function thumbsOf(file: string): Promise<Float64Array[]> {
  const { data, info } = await sharp(file, { failOn: 'none' })
    .rotate()
    .flatten({ background: '#ffffff' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const raw = { data, width: info.width, height: info.height, channels: info.channels as 1 | 2 | 3 | 4 };
  return Promise.all(CROPS.map((c) => thumbFrom(raw, c)));
}

/** Thumbnail correlation of pairs of files; null where a file cannot be read any more. Thumbnails are cached. */
export class PixelVerifier {
  private readonly thumbs = new Map<string, Promise<Float64Array[] | null>>();

  private thumb(file: string): Promise<Float64Array[] | null> {
    let t = this.thumbs.get(file);
    if (!t) {
      t = thumbsOf(file).catch(() => null);
      this.thumbs.set(file, t);
    }
    return t;
  }

  async similarity(a: string, b: string): Promise<number | null> {
    const [ta, tb] = await Promise.all([this.thumb(a), this.thumb(b)]);
    if (!ta || !tb) return null;
    let best = -Infinity;
    for (let ca = 0; ca < CROPS.length; ca++)
      for (let cb = 0; cb < CROPS.length; cb++) {
        if (ca > 0 && cb > 0) continue; // cropping both is the uncropped alignment again
        const x = ta[ca]!;
        const y = tb[cb]!;
        let s = 0;
        for (let i = 0; i < x.length; i++) s += x[i]! * y[i]!;
        best = Math.max(best, s);
      }
    return best;
  }
}
