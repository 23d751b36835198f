/**
 * convfeat's library API: what a TypeScript user imports. The stages follow the data —
 * dataset → preprocess → backbone → cache → linear → report — and each is usable on its own.
 *
 *   import { scanDataset, prepareBackbone, openBackbone, extractDataset, fitFromCache, evaluateOnCache } from 'convfeat';
 */
export { ConvfeatError, UsageError, isConvfeatError } from './util/errors';
export { readNpySync, writeNpySync, encodeNpy, decodeNpy } from './util/npy';
export type { NpyArray } from './util/npy';

// dataset
export * from './dataset';
export { stratifiedSplit, writeSplitManifest, MINI_SPLIT_FRACTIONS, type SplitOptions } from './dataset/split';

// preprocess
export * from './preprocess';

// backbone
export { prepareBackbone, openBackbone, modelStoreDir, PREPROCESS_PRESETS } from './backbone/load';
export type { BackboneRequest, PreparedBackbone, OpenOptions, OpenBackbone } from './backbone/load';
export type { EmbeddingBackbone, BackboneIdentity } from './backbone/runtime/extractor';
export { cutAtEmbedding, findEmbeddingCandidates } from './backbone/graph/cut';
export { inspectModel, inspectModelBytes, formatModelInfo } from './backbone/graph/inspect';
export type { ModelInfo } from './backbone/graph/inspect';
export { modelFingerprint } from './backbone/graph/fingerprint';
export { createSession, runBatch, parseDevice } from './backbone/runtime/session';
// the CUDA provider: install it (npm registry) and diagnose what it needs
export { installCudaProvider } from './backbone/runtime/gpu/install';
export type { InstallOptions, InstallResult } from './backbone/runtime/gpu/install';
export { diagnoseGpu, formatDiagnosis } from './backbone/runtime/gpu/check';
export type { GpuDiagnosis, LibraryStatus } from './backbone/runtime/gpu/check';
export type { SessionHandle, SessionOptions } from './backbone/runtime/session';
export { fetchModel, listModels, loadManifest, resolveModel } from './backbone/store';
export type { ModelEntry, Manifest } from './backbone/store';
export { convertKerasModel } from './backbone/store/keras';
// int8 backbones (issue 14)
export {
  quantizeModel,
  tensorsToCalibrate,
  collectStats,
  rangeTable,
  calibrateModel,
  readRangeTable,
  writeRangeTable,
  parsePrecision,
} from './backbone/quantize';
export type {
  RangeTable,
  QuantizeReport,
  RangeMethod,
  RangeTableFile,
  CalibrateRequest,
  CalibrateResult,
  Precision,
} from './backbone/quantize';

// cache
export * from './cache';

// linear
export * from './linear';
export { fitFromCache } from './linear/fitCache';
export type { FitFromCacheOptions, FitFromCacheResult } from './linear/fitCache';

// report
export { evaluateOnCache, assertCompatible } from './report/evaluate';
export type { EvaluationResult } from './report/evaluate';
export { predictDataset, backboneForClassifier } from './deploy/predict';
export type { Prediction, PredictOptions, PredictSummary } from './deploy/predict';
export {
  accuracy,
  topKAccuracy,
  classificationMetrics,
  metricsToJson,
  formatMetricsTable,
  confusionMatrix,
  formatConfusionMatrix,
} from './report/metrics';
export type { ClassificationMetrics, ClassMetrics } from './report/metrics';

// audit
export { auditCache } from './audit/audit';
export type { AuditOptions, AuditResult, AuditRow, LeakageEffect } from './audit/audit';
export { similarImages } from './audit/similar';
export type { SimilarOptions, SimilarResult, SimilarMatch } from './audit/similar';
export { normalizeRows, selfSearch, searchNearest } from './audit/search';
export type { Neighbours, SimilarPair } from './audit/search';
export { confidentLearning, outOfFoldProbabilities } from './audit/labels';
export type { LabelIssue, ConfidentLearningResult } from './audit/labels';
export { findDuplicates, DEFAULT_NEAR_DUPLICATE_THRESHOLD } from './audit/duplicates';
export type { DuplicatePair } from './audit/duplicates';
export { findOutliers, DEFAULT_OUTLIER_Z } from './audit/outliers';
export { issuesCsv, readExcludeFile } from './audit/csv';
export { writeAuditReport } from './audit/writeAudit';
