/** int8 backbones: static QDQ quantisation, calibration with onnxruntime, range tables, the int8 variant of a model. */
export { quantizeModel, tensorsToCalibrate, activationParams, quantizeWeights, QUANTIZER_VERSION } from './qdq';
export type { RangeTable, QuantizeOptions, QuantizeReport, QuantizeResult, KeptFp32, NodeNote } from './qdq';
export { foldBatchNorms, foldZeroPads } from './fold';
export { collectStats, rangeOf, rangeTable, HISTOGRAM_BINS } from './calibrate';
export type { TensorStats, RangeMethod, CalibrationInput } from './calibrate';
export { readRangeTable, writeRangeTable, RANGE_TABLE_FORMAT, RANGE_TABLE_VERSION } from './table';
export type { RangeTableFile } from './table';
export {
  int8Cut,
  parsePrecision,
  splitModelPrecision,
  modelNameWithPrecision,
  userRangeTablePath,
  summarize,
  PRECISIONS,
} from './variant';
export type { Precision, Int8Cut, Int8Summary } from './variant';
export {
  calibrateModel,
  pickCalibrationItems,
  DEFAULT_RANGE_METHOD,
  DEFAULT_CALIBRATION_IMAGES,
} from './calibrateModel';
export type { CalibrateRequest, CalibrateResult } from './calibrateModel';
