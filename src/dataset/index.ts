/**
 * The dataset stage's public face (the `dataset` namespace of the package root): scanning a folder or manifest into
 * items with labels, splits and content hashes, and the names and splits convfeat understands.
 */
export { scanDataset } from './scan';
export { normalizeSplit, looksLikeImage, IMAGE_EXTENSIONS, SPLITS } from './names';
export type { Dataset, DatasetItem, DatasetKind, LayoutOption, ScanOptions, ScanProblem, Split } from './types';
export { listImageFiles, imagesUnder } from './imageFiles';
export type { ImageFile, ListImageFilesOptions } from './imageFiles';
export { labelledSplits, descendSingleFolder } from './labelledSplits';
export type { LabelledSplits, LabelledSplitsOptions } from './labelledSplits';
