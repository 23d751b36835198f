/**
 * Batch scoring: run a dataset through the backbone a classifier was trained on (through a cache, so images seen
 * before cost nothing) and hand out one prediction per image as soon as its embedding exists.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openBackbone, prepareBackbone, type PreparedBackbone } from '../backbone/load';
import { loadManifest } from '../backbone/store';
import { extractDataset, type ExtractSummary } from '../cache';
import type { Dataset, DatasetItem } from '../dataset';
import type { LinearClassifier } from '../linear';
import { preprocessFingerprint, type ExifMode } from '../preprocess/spec';
import { ConvfeatError } from '../util/errors';
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
  /** Cache to extract through; without it a temporary cache is used and removed. */
  cacheDir?: string;
  device?: string;
  threads?: number;
  batchSize?: number;
  workers?: number;
  topK?: number;
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
  opts: { model?: string; layer?: string; preprocess?: string; log?: (line: string) => void },
): Promise<{ prepared: PreparedBackbone; exif: ExifMode }> {
  const trainedOn = clf.backbone.model;
  if (opts.model === undefined && trainedOn === 'classical:orb-bow') {
    throw new ConvfeatError(
      'The classifier was trained on classical:orb-bow features; pass the codebook it was extracted with: --model CODEBOOK.json.',
    );
  }
  const known =
    trainedOn !== null && (loadManifest().models[trainedOn] !== undefined || trainedOn.startsWith('classical:'));
  const model = opts.model ?? (known ? trainedOn : undefined);
  if (!model) {
    throw new ConvfeatError(
      `The classifier was trained on embeddings of ${trainedOn ?? 'an unnamed model'}, which is not a known model; pass the same ONNX file with --model FILE.onnx.`,
    );
  }
  const prepared = await prepareBackbone({ model, layer: opts.layer, preprocess: opts.preprocess, log: opts.log });
  if (clf.backbone.fingerprint && prepared.fingerprint !== clf.backbone.fingerprint) {
    throw new ConvfeatError(
      `--model ${model} cut at ${prepared.layer} (fingerprint ${prepared.fingerprint}) is not the backbone the classifier was trained on (${trainedOn}, ${clf.backbone.fingerprint}); pass the same model and --layer, or refit the classifier.`,
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

export async function predictDataset(
  clf: LinearClassifier,
  dataset: Dataset,
  opts: PredictOptions,
): Promise<PredictSummary> {
  const topK = integerInRange('--top-k', opts.topK ?? 1, 1, clf.classes.length);
  const { prepared, exif } = await backboneForClassifier(clf, opts);
  const backbone = await openBackbone(prepared, { device: opts.device, threads: opts.threads, exif, log: opts.log });
  const temporary = opts.cacheDir === undefined;
  const cacheDir = opts.cacheDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'convfeat-predict-'));
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
      const order = Array.from({ length: K }, (_, k) => k).sort((a, b) => proba[i * K + b]! - proba[i * K + a]!);
      opts.onPrediction({
        path: item.path,
        relPath: item.relPath,
        ...(item.label !== undefined ? { label: item.label } : {}),
        top: order.slice(0, topK).map((k) => ({ label: clf.classes[k]!, score: proba[i * K + k]! })),
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
