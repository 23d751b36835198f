/**
 * The backbone stage's public surface, for advanced use: from a model name to a prepared (cut, fingerprinted) graph
 * and an open onnxruntime session; the graph tools; the model store; int8 quantisation; the CUDA provider.
 * Most users want featureExtractor() from the package root instead.
 */
export { prepareBackbone, openBackbone, modelStoreDir, PREPROCESS_PRESETS } from './load';
export type { BackboneRequest, PreparedBackbone, OpenOptions, OpenBackbone } from './load';
export type { EmbeddingBackbone, BackboneIdentity } from './runtime/extractor';
export { cutAtEmbedding, findEmbeddingCandidates } from './graph/cut';
export { inspectModel, inspectModelBytes, formatModelInfo } from './graph/inspect';
export type { ModelInfo } from './graph/inspect';
export { modelFingerprint } from './graph/fingerprint';
export { createSession, runBatch, parseDevice } from './runtime/session';
export type { SessionHandle, SessionOptions } from './runtime/session';
export { installCudaProvider } from './runtime/gpu/install';
export type { InstallOptions, InstallResult } from './runtime/gpu/install';
export { diagnoseGpu, formatDiagnosis } from './runtime/gpu/check';
export type { GpuDiagnosis, LibraryStatus } from './runtime/gpu/check';
export * as store from './store';
export { convertKerasModel } from './store/keras';
export * as quantize from './quantize';
