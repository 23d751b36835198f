/**
 * Batch scoring: run a dataset through the backbone a classifier was trained on (through a cache, so images seen
 * before cost nothing) and hand out one prediction per image as soon as its embedding exists.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openBackbone, prepareBackbone, type PreparedBackbone } from '../backbone/load';
import { splitModelPrecision, type Precision } from '../backbone/quantize/variant';
import { loadManifest } from '../backbone/store';
import { extractDataset, type ExtractSummary } from '../cache';
import type { Dataset, DatasetItem } from '../dataset';
import type { LinearClassifier } from '../linear';
import { preprocessFingerprint, type ExifMode } from '../preprocess/spec';
import { ConvfeatError } from '../util/errors';
import { ownerTag, removeDeadTempDirs } from '../util/owner';
import { integerInRange } from '../util/validate';

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

/** The backbone a classifier needs, refused with a sentence when the file on hand is a different network. */
export async function backboneForClassifier(
  clf: LinearClassifier,
  opts: { model?: string; layer?: string; preprocess?: string; precision?: Precision; log?: (line: string) => void },
): Promise<{ prepared: PreparedBackbone; exif: ExifMode }> {
  const trainedOn = clf.backbone.model;
  if (opts.model === undefined && trainedOn === 'classical:orb-bow') {
    throw new ConvfeatError(
      'The classifier was trained on classical:orb-bow features; pass the codebook it was extracted with: --model CODEBOOK.json.',
    );
  }
  // An int8 backbone is recorded as NAME@int8; unless told otherwise, use the precision the classifier was fitted on.
  const trained = trainedOn !== null ? splitModelPrecision(trainedOn) : undefined;
  const known =
    trained !== undefined &&
    (loadManifest().models[trained.model] !== undefined || trained.model.startsWith('classical:'));
  // An explicit --precision names the precision itself, so the recorded name loses its @int8.
  const model = opts.model ?? (known ? (opts.precision !== undefined ? trained!.model : trainedOn!) : undefined);
  const precision =
    opts.precision ??
    (opts.model !== undefined && splitModelPrecision(opts.model).precision ? undefined : trained?.precision);
  if (!model) {
    throw new ConvfeatError(
      `The classifier was trained on embeddings of ${trainedOn ?? 'an unnamed model'}, which is not a known model; pass the same ONNX file with --model FILE.onnx.`,
    );
  }
  const prepared = await prepareBackbone({
    model,
    layer: opts.layer,
    preprocess: opts.preprocess,
    ...(precision !== undefined ? { precision } : {}),
    log: opts.log,
  });
  if (clf.backbone.fingerprint && prepared.fingerprint !== clf.backbone.fingerprint) {
    throw new ConvfeatError(
      trained !== undefined && prepared.precision !== (trained.precision ?? 'fp32')
        ? `The classifier was fitted on ${trained.precision ?? 'fp32'} embeddings (${trainedOn}) but --precision ${prepared.precision} was asked for; drop --precision, or refit the classifier on a cache extracted with --precision ${prepared.precision}.`
        : `--model ${model} cut at ${prepared.layer} (fingerprint ${prepared.fingerprint}) is not the backbone the classifier was trained on (${trainedOn}, ${clf.backbone.fingerprint}); pass the same model and --layer, or refit the classifier.`,
    );
  }
  // The classifier records the preprocessing fingerprint; EXIF handling is the one choice the user makes per run.
  const exif = (['apply', 'ignore'] as const).find(
    (mode) =>
      !clf.preprocessFingerprint ||
      preprocessFingerprint({ spec: prepared.spec, exif: mode }) === clf.preprocessFingerprint,
  );
  if (!exif) {
    throw new ConvfeatError(
      `The classifier was trained on embeddings made with other preprocessing than ${prepared.name} has now; refit it on a cache extracted with the current settings.`,
    );
  }
  return { prepared, exif };
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
  const topK = integerInRange('--top-k', opts.topK ?? 1, 1, clf.classes.length);
  const { prepared, exif } = await backboneForClassifier(clf, opts);
  const backbone = await openBackbone(prepared, { device: opts.device, threads: opts.threads, exif, log: opts.log });
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
    const proba = clf.predictProba(rows, backbone.identity.dim);
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
      ...(opts.workers !== undefined ? { workers: opts.workers } : {}),
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
