/** Preprocessing: sharp decode, Pillow-exact resize, torchvision crop and normalisation, a worker pool. */
export * from './spec';
export { decodeImage, sniffFormat, endsCleanly, ImageDecodeError, DEFAULT_MAX_PIXELS } from './decode';
export { refusalFromHead, SNIFF_BYTES, UNDECODABLE } from './decode';
export type { DecodeOptions, DecodedImage } from './decode';
export { resampleRegion, resize, bilinearCoefficients } from './resample';
export type { ResampleFilter, Region, AxisCoefficients } from './resample';
export { roundHalfEven, shorterSideSize, resizedSize, centerCropAxis, planGeometry } from './geometry';
export type { CropAxis, Plan } from './geometry';
export { validateSpec, validateTransformOptions } from './options';
export type { TransformOptions } from './options';
export {
  preprocess,
  preprocessInto,
  preprocessDetailed,
  preprocessDecoded,
  preprocessDecodedInto,
  resizeAndCrop,
  normaliseInto,
  normalisationTable,
  tensorLength,
} from './transform';
export type { RgbImage, Preprocessed } from './transform';
export { PreprocessPool, defaultPreprocessThreads } from './pool';
export type { PreprocessPoolOptions } from './pool';
export { prepareTensorOutput, writeTensors } from './writeTensors';
export type { TensorOutputMode, WrittenTensor, WriteTensorsResult } from './writeTensors';
