/**
 * Preprocessing is data, not code branches (timm's pretrained_cfg): every model entry carries one of these, and the
 * single implementation in this folder follows it.
 */
import { canonicalJson, sha256Hex } from '../util/hash';

export interface PreprocessSpec {
  /** How the decoded image is resized before cropping. */
  resize:
    | { mode: 'shorter'; size: number } // torchvision Resize(int): shorter side -> size, long side int(size*long/short)
    | { mode: 'exact'; height: number; width: number } // Resize((h, w))
    | { mode: 'none' };
  /** Resampling filter; 'bilinear' reproduces PIL's antialiased bilinear (torchvision's default on PIL images). */
  interpolation: 'bilinear' | 'nearest';
  /** Centre crop after resizing (torchvision CenterCrop offsets); omitted = no crop. */
  crop?: { height: number; width: number };
  /** Channel order fed to the network. */
  channelOrder: 'RGB' | 'BGR';
  /** Pixel values are divided by this before mean/std: 255 gives [0,1] (torchvision), 1 keeps 0..255 (Keras caffe). */
  scale: 1 | 255;
  /** Per-channel mean and std in the network's channel order, applied after scaling: (x/scale - mean) / std. */
  mean: [number, number, number];
  std: [number, number, number];
  /** Tensor layout of the network input. */
  layout: 'NCHW' | 'NHWC';
}

export type ExifMode = 'apply' | 'ignore';

export interface PreprocessOptions {
  spec: PreprocessSpec;
  /** 'apply' rotates by EXIF orientation (phone photos upright); 'ignore' matches torchvision, which ignores EXIF. */
  exif: ExifMode;
}

/** Output spatial size of a spec (after resize and crop). */
export function outputSize(spec: PreprocessSpec): { height: number; width: number } | undefined {
  if (spec.crop) return { height: spec.crop.height, width: spec.crop.width };
  if (spec.resize.mode === 'exact') return { height: spec.resize.height, width: spec.resize.width };
  return undefined;
}

/** A short stable fingerprint of everything that changes the pixels handed to the network. */
export function preprocessFingerprint(opts: PreprocessOptions): string {
  return sha256Hex(canonicalJson({ v: 1, spec: opts.spec, exif: opts.exif })).slice(0, 16);
}

export const TORCHVISION_IMAGENET: PreprocessSpec = {
  resize: { mode: 'shorter', size: 256 },
  interpolation: 'bilinear',
  crop: { height: 224, width: 224 },
  channelOrder: 'RGB',
  scale: 255,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  layout: 'NCHW',
};

/** Keras "caffe" mode (ResNet50 v1, VGG16 Keras): BGR, 0..255, minus the ImageNet BGR mean, no std. */
export const KERAS_CAFFE: PreprocessSpec = {
  resize: { mode: 'shorter', size: 256 },
  interpolation: 'bilinear',
  crop: { height: 224, width: 224 },
  channelOrder: 'BGR',
  scale: 1,
  mean: [103.939, 116.779, 123.68],
  std: [1, 1, 1],
  layout: 'NCHW',
};
