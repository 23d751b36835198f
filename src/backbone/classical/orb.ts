/**
 * ORB local features (Rublee et al., "ORB: an efficient alternative to SIFT or SURF", ICCV 2011) from OpenCV's
 * JavaScript build. SIFT is not in that build; ORB is the patent-free, maintained replacement it offers.
 */
import { loadOpenCv, openCvError, type OpenCv } from './opencv';
import { ConvfeatError } from '../../util/errors';

export const ORB_BYTES = 32;
export const ORB_BITS = ORB_BYTES * 8;

export interface LocalFeatures {
  count: number;
  /** count × 32 bytes, one binary descriptor per keypoint. */
  descriptors: Uint8Array;
  /** Keypoint positions as fractions of the image size, in [0, 1). */
  x: Float32Array;
  y: Float32Array;
}

export interface OrbExtractor {
  features(rgb: Float32Array, height: number, width: number): LocalFeatures;
  close(): void;
}

/** ITU-R BT.601 luma, as OpenCV's RGB2GRAY. */
function toGray(rgb: Float32Array, pixels: number): Uint8Array {
  const gray = new Uint8Array(pixels);
  for (let i = 0; i < pixels; i++) {
    const v = 0.299 * rgb[i * 3]! + 0.587 * rgb[i * 3 + 1]! + 0.114 * rgb[i * 3 + 2]!;
    gray[i] = Math.max(0, Math.min(255, Math.round(v)));
  }
  return gray;
}

export async function openOrb(maxFeatures = 500): Promise<OrbExtractor> {
  const { cv } = (await loadOpenCv()) as { cv: OpenCv };
  const orb = new cv.ORB(maxFeatures);
  return {
    features(rgb, height, width) {
      const gray = toGray(rgb, height * width);
      const mat = cv.matFromArray(height, width, cv.CV_8UC1, gray);
      const mask = new cv.Mat();
      const keypoints = new cv.KeyPointVector();
      const descriptors = new cv.Mat();
      try {
        orb.detectAndCompute(mat, mask, keypoints, descriptors);
        const count = descriptors.rows;
        const x = new Float32Array(count);
        const y = new Float32Array(count);
        for (let k = 0; k < count; k++) {
          const p = keypoints.get(k).pt;
          x[k] = Math.min(0.999999, Math.max(0, p.x / width));
          y[k] = Math.min(0.999999, Math.max(0, p.y / height));
        }
        return { count, descriptors: Uint8Array.from(descriptors.data.subarray(0, count * ORB_BYTES)), x, y };
      } catch (e) {
        throw new ConvfeatError(`ORB feature detection failed: ${openCvError(e)}`);
      } finally {
        mat.delete();
        mask.delete();
        keypoints.delete();
        descriptors.delete();
      }
    },
    close() {
      orb.delete();
    },
  };
}

/** A binary descriptor as 256 values of 0 or 1: k-means in this space is k-means under the Hamming distance. */
export function unpackBits(descriptors: Uint8Array, index: number, out: Float64Array | number[]): void {
  for (let byte = 0; byte < ORB_BYTES; byte++) {
    const v = descriptors[index * ORB_BYTES + byte]!;
    for (let bit = 0; bit < 8; bit++) out[byte * 8 + bit] = (v >> bit) & 1;
  }
}
