/**
 * convfeat's library API: what a TypeScript user imports. The doors at the top take a user from photos to a
 * deployed classifier in a few calls, with the CLI's defaults:
 *
 *   import { featureExtractor, fitFromCache, classifierPipeline, saveClassifier } from 'convfeat';
 *   const fx = await featureExtractor('resnet50');             // fx.embed(images), fx.extract(folder, { cache })
 *   const { classifier } = await fitFromCache('cache/');        // C chosen on val, or by cross-validation
 *   const clf = await classifierPipeline(classifier);           // await clf(['photo.jpg']) → [{ label, score, top }]
 *
 * Each stage of the data flow (dataset → preprocess → backbone → cache → linear → report / deploy / audit) is also
 * a namespace for advanced use: `import { cache, backbone } from 'convfeat'`. Only this module is the package's
 * API (package.json `exports`); paths inside dist/ are not.
 */
export { ConvfeatError, UsageError, isConvfeatError } from './util/errors';

// Embeddings: a backbone opened once, images in, rows out (no cache), or a dataset into the resumable cache.
export { featureExtractor } from './cache/featureExtractor';
export type {
  FeatureExtractor,
  FeatureExtractorOptions,
  ExtractCallOptions,
  ExtractCallSummary,
} from './cache/featureExtractor';
export { EmbedError } from './cache/embedImages';
export type { EmbedResult, EmbedFailure, EmbedOptions, ImageInput } from './cache/embedImages';
export { scanDataset, labelledSplits } from './dataset';
export type { Dataset, DatasetItem, LayoutOption, Split, LabelledSplits, LabelledSplitsOptions } from './dataset';
export { readNpySync, writeNpySync } from './util/npy';
export type { NpyArray } from './util/npy';

// Models: the store, int8 variants, the CUDA provider.
export { listModels, fetchModel } from './backbone/store';
export type { ModelEntry } from './backbone/store';
export { inspectModel } from './backbone/graph/inspect';
export { calibrateModel } from './backbone/quantize';
export type { Precision } from './backbone/quantize';
export { installCudaProvider } from './backbone/runtime/gpu/install';
export { diagnoseGpu } from './backbone/runtime/gpu/check';

// Classifiers: the estimator, fitting on a cache, reading and writing classifier files.
export { LinearClassifier, saveClassifier, loadClassifier } from './linear';
export type { LinearClassifierOptions, LinearClassifierParams, FitOptions, ScaleKind, SolverKind } from './linear';
export { toEmbeddings } from './util/embeddings';
export type { Embeddings } from './util/embeddings';
export { fitFromCache } from './linear/fitCache';
export type { FitFromCacheOptions, FitFromCacheResult } from './linear/fitCache';

// Evaluation and advice.
export { evaluateOnCache } from './report/evaluate';
export type { EvaluationResult } from './report/evaluate';
export { classificationMetrics, confusionMatrix } from './report/metrics';
export type { ClassificationMetrics } from './report/metrics';
export { writeReport } from './report/writeReport';
export type { WriteReportOptions, WriteReportResult } from './report/writeReport';
export { advise, learningCurve } from './report/advise';
export type { Advice, AdviseOptions, CurvePoint } from './report/advise';

// Deployment: a classifier as one callable, batch scoring through a cache, one fused ONNX file.
export { classifierPipeline } from './deploy/classifierPipeline';
export type {
  ClassifierPipeline,
  ClassifierPipelineOptions,
  ClassifierPrediction,
  ClassifyOptions,
} from './deploy/classifierPipeline';
export { predictDataset, backboneForClassifier } from './deploy/predict';
export type { Prediction, PredictOptions, PredictSummary } from './deploy/predict';
export { exportFusedOnnx, buildFusedModel } from './deploy/fusedExport';
export { exportClassifier } from './deploy/exportClassifier';
export type { ExportClassifierOptions, ExportedClassifier } from './deploy/exportClassifier';
export type { FusedExportOptions, FusedModel } from './deploy/fusedExport';

// What the embeddings say about the data.
export { auditCache, similarImages, writeAuditReport } from './audit';
export type { AuditOptions, AuditResult, SimilarOptions, SimilarResult } from './audit';

// The stages, whole, for advanced use (each folder's index is its public face).
export * as dataset from './dataset';
export * as preprocess from './preprocess';
export * as backbone from './backbone';
export * as cache from './cache';
export * as linear from './linear';
export * as report from './report';
export * as deploy from './deploy';
export * as audit from './audit';
export * as npy from './util/npy';
