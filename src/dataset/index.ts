export { scanDataset } from './scan';
export { normalizeSplit, looksLikeImage, IMAGE_EXTENSIONS, SPLITS } from './names';
export type { Dataset, DatasetItem, DatasetKind, LayoutOption, ScanOptions, ScanProblem, Split } from './types';
