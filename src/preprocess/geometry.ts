/**
 * torchvision's size and crop arithmetic (transforms.functional): Resize(int) and CenterCrop, including the
 * zero padding CenterCrop applies when the crop is larger than the image.
 */
import type { PreprocessSpec } from './spec';

/** Python's round() for the half-integers CenterCrop produces: ties go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * torchvision Resize(size) on an int: the shorter side becomes `size` and the longer one int(size * long / short)
 * (truncated, computed in double precision exactly as Python does).
 */
export function shorterSideSize(width: number, height: number, size: number): { width: number; height: number } {
  if (width <= height) return { width: size, height: Math.trunc((size * height) / width) };
  return { width: Math.trunc((size * width) / height), height: size };
}

/** Size after the spec's resize step. */
export function resizedSize(spec: PreprocessSpec, width: number, height: number): { width: number; height: number } {
  switch (spec.resize.mode) {
    case 'shorter':
      return shorterSideSize(width, height, spec.resize.size);
    case 'exact':
      return { width: spec.resize.width, height: spec.resize.height };
    case 'none':
      return { width, height };
  }
}

/**
 * One axis of CenterCrop: `count` pixels read from `srcStart` of the resized image land at `dstStart` of the crop;
 * the rest of the crop (only when the crop is larger than the image) is torchvision's zero padding.
 */
export interface CropAxis {
  srcStart: number;
  dstStart: number;
  count: number;
}

export function centerCropAxis(size: number, crop: number): CropAxis {
  if (crop > size) {
    // torchvision pads (crop - size) // 2 before and the rest after, then the crop covers the padded image exactly.
    return { srcStart: 0, dstStart: Math.floor((crop - size) / 2), count: size };
  }
  return { srcStart: roundHalfEven((size - crop) / 2), dstStart: 0, count: crop };
}

/** Everything the pixel pipeline needs to know about geometry for one decoded image. */
export interface Plan {
  /** Size of the image after resizing (before cropping). */
  resized: { width: number; height: number };
  /** Output (network input) size. */
  output: { width: number; height: number };
  x: CropAxis;
  y: CropAxis;
}

export function planGeometry(spec: PreprocessSpec, width: number, height: number): Plan {
  const resized = resizedSize(spec, width, height);
  const output = spec.crop ? { width: spec.crop.width, height: spec.crop.height } : resized;
  return {
    resized,
    output,
    x: centerCropAxis(resized.width, output.width),
    y: centerCropAxis(resized.height, output.height),
  };
}
