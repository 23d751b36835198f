/**
 * Batch scoring: run a dataset through the backbone a classifier was trained on (through a cache, so images seen
 * before cost nothing) and hand out one prediction per image as soon as its embedding exists.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Precision } from '../backbone/quantize/variant';
import { extractDataset, type ExtractSummary } from '../cache';
import type { Dataset, DatasetItem } from '../dataset';
import type { LinearClassifier } from '../linear';
import { defaultPreprocessThreads } from '../preprocess';
import { ownerTag, removeDeadTempDirs } from '../util/owner';
import { integerInRange } from '../util/validate';
import { param } from '../util/params';
import { toEmbeddings } from '../util/embeddings';
import { openBackboneForClassifier } from './match';

export { backboneForClassifier, openBackboneForClassifier, type MatchOptions, type MatchedBackbone } from './match';

export interface Prediction {
  path: string;
  relPath: string;
  /** The true label when the input has labels. */
  label?: string;
  top: Array<{ label: string; score: number }>;
}

export interface PredictOptions {
  /** The backbone file, when the classifier was trained on a user ONNX model rather than a known one. */
  model?: string;
  layer?: string;
  preprocess?: string;
  /** fp32 or int8; unset: the precision the classifier was trained with. */
  precision?: Precision;
  /** Cache to extract through; without it a temporary cache is used and removed. */
  cacheDir?: string;
  device?: string;
  threads?: number;
  batchSize?: number;
  /** Preprocessing workers; default: the CLI's (cores − 1). */
  workers?: number;
  topK?: number;
  /** Files over this many MB are refused before they are read (default 256). */
  maxFileMB?: number;
  onPrediction: (p: Prediction) => void;
  onFailure?: (f: { path: string; reason: string }) => void;
  onProgress?: (done: number, total: number) => void;
  log?: (line: string) => void;
}

export interface PredictSummary extends ExtractSummary {
  predicted: number;
  model: string;
}

/** The k largest of values[o .. o+K) by index, best first (ties: lower index); O(K·k), no sort of all K. */
function topIndices(values: Float32Array, o: number, K: number, k: number): number[] {
  const top: number[] = [];
  for (let c = 0; c < K; c++) {
    const v = values[o + c]!;
    if (top.length === k && v <= values[o + top[k - 1]!]!) continue;
    let at = top.length;
    while (at > 0 && values[o + top[at - 1]!]! < v) at--;
    top.splice(at, 0, c);
    if (top.length > k) top.pop();
  }
  return top;
}

export async function predictDataset(
  clf: LinearClassifier,
  dataset: Dataset,
  opts: PredictOptions,
): Promise<PredictSummary> {
  const topK = integerInRange(param('topK'), opts.topK ?? 1, 1, clf.classes.length);
  const { prepared, backbone } = await openBackboneForClassifier(clf, opts);
  const temporary = opts.cacheDir === undefined;
  // The temporary cache is named after its owner (pid, start time) so a later run removes what a killed one left.
  if (opts.cacheDir === undefined) removeDeadTempDirs(os.tmpdir(), 'convfeat-predict-');
  const cacheDir = opts.cacheDir ?? fs.mkdtempSync(path.join(os.tmpdir(), `convfeat-predict-${ownerTag()}-`));
  if (temporary) fs.rmSync(cacheDir, { recursive: true, force: true });
  // process.exit (a closed stdout pipe, Ctrl-C) skips `finally`: remove the temporary cache from an exit hook too.
  const removeTemporary = (): void => {
    if (temporary) fs.rmSync(cacheDir, { recursive: true, force: true });
  };
  process.on('exit', removeTemporary);
  const K = clf.classes.length;
  let predicted = 0;
  const score = (items: readonly DatasetItem[], rows: Float32Array): void => {
    const proba = clf.predictProba(toEmbeddings(rows, backbone.identity.dim));
    items.forEach((item, i) => {
      const order = topIndices(proba, i * K, K, topK);
      opts.onPrediction({
        path: item.path,
        relPath: item.relPath,
        ...(item.label !== undefined ? { label: item.label } : {}),
        top: order.map((k) => ({ label: clf.classes[k]!, score: proba[i * K + k]! })),
      });
      predicted += 1;
    });
  };
  try {
    const summary = await extractDataset(dataset, backbone, {
      cacheDir,
      ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
      // The CLI's default (cores − 1 decoding workers), so a library call scores as fast as `convfeat predict`.
      workers: opts.workers ?? defaultPreprocessThreads(),
      writeListing: false,
      ...(opts.maxFileMB !== undefined ? { maxFileMB: opts.maxFileMB } : {}),
      onEmbedded: score,
      ...(opts.onFailure ? { onFailure: opts.onFailure } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.log ? { warn: opts.log } : {}),
    });
    return { ...summary, predicted, model: prepared.name };
  } finally {
    await backbone.close();
    process.removeListener('exit', removeTemporary);
    removeTemporary();
  }
}
