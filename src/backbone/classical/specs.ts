/** The pixels each classical feature is computed on: interleaved RGB in 0–255 after torchvision-style resize + crop. */
import type { PreprocessSpec } from '../../preprocess/spec';

export function rgbCrop(shorter: number, crop: number): PreprocessSpec {
  return {
    resize: { mode: 'shorter', size: shorter },
    interpolation: 'bilinear',
    crop: { height: crop, width: crop },
    channelOrder: 'RGB',
    scale: 1,
    mean: [0, 0, 0],
    std: [1, 1, 1],
    layout: 'NHWC',
  };
}

/** HOG and colour histograms: a 128×128 crop (16×16 HOG cells). */
export const SMALL_SPEC = rgbCrop(128, 128);
/** ORB bag of words: the ConvNets' 224×224 crop, enough pixels for a few hundred keypoints. */
export const BOW_SPEC = rgbCrop(256, 224);
