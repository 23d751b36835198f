/** The linear stage's public surface. */
export { LinearClassifier } from './classifier';
export type {
  LinearClassifierOptions,
  LinearClassifierParams,
  FitOptions,
  ClassWeightKind,
  BackboneIdentity,
  FitMetrics,
} from './classifier';
export type { DeepReadonly } from './fitted';
export { toEmbeddings } from '../util/embeddings';
export type { Embeddings } from '../util/embeddings';
export { fitFromCache } from './fitCache';
export type { FitFromCacheOptions, FitFromCacheResult } from './fitCache';
export { Scaler, SCALE_KINDS } from './scaler';
export type { ScaleKind, ScalerJson } from './scaler';
export { SOLVERS } from './train';
export type { SolverKind } from './train';
export { defaultCGrid, stratifiedFolds, C_GRID_EXPONENTS } from './search';
export type { CSearchResult, CScore } from './search';
export type { TrainingCurvePoint } from './softmax';
export { CLASSIFIER_FORMAT, CLASSIFIER_VERSION } from './format';
export type { ClassifierJson } from './format';
export { saveClassifier, loadClassifier } from './io';
export { ML_SVM_MAX_ROWS } from './mlsvm';
export { minimizeLbfgs } from './lbfgs';
