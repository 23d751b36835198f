/**
 * The deploy stage's face: using a fitted classifier. Batch prediction and its row writers, matching a classifier to
 * the backbone it was trained on, and the fused ONNX export (one graph from [0,1] RGB to probabilities).
 */
export { predictDataset } from './predict';
export type { Prediction, PredictOptions, PredictSummary } from './predict';
export { backboneForClassifier, openBackboneForClassifier } from './match';
export type { MatchOptions, MatchedBackbone } from './match';
export {
  openPredictionWriter,
  formatPrediction,
  predictionsCsvHeader,
  predictionFormatFor,
  PREDICTIONS_FORMAT_VERSION,
  PREDICTION_FORMATS,
} from './writers';
export type { PredictionFormat, PredictionWriter, PredictionWriterOptions } from './writers';
export { buildFusedModel, exportFusedOnnx } from './fusedExport';
export type { FusedExportOptions, FusedModel } from './fusedExport';
export { exportClassifier } from './exportClassifier';
export type { ExportClassifierOptions, ExportedClassifier } from './exportClassifier';
