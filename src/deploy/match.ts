/**
 * Matching a classifier to its backbone, in one place for every use of a fitted classifier (predict, the fused export,
 * classifier pipelines). A classifier records the model it was trained on (`resnet50`, `resnet50@int8`, a user file's
 * name, `classical:…`) and the fingerprints of the cut graph and of the preprocessing: the backbone is resolved from
 * that record (or from the file the caller names), prepared once, and refused with a sentence when it is another
 * network, another cut, another precision or other preprocessing. Opening it (the session) happens once, after the
 * checks, so a mismatch costs no session.
 */
import {
  openBackbone,
  prepareBackbone,
  type OpenBackbone,
  type OpenOptions,
  type PreparedBackbone,
} from '../backbone/load';
import { splitModelPrecision, type Precision } from '../backbone/quantize/variant';
import { loadManifest } from '../backbone/store';
import type { LinearClassifier } from '../linear';
import { preprocessFingerprint, type ExifMode } from '../preprocess/spec';
import { ConvfeatError } from '../util/errors';
import { param } from '../util/params';

export interface MatchOptions {
  /** The backbone file, when the classifier was trained on a user ONNX model rather than a known one. */
  model?: string;
  layer?: string;
  preprocess?: string;
  /** fp32 or int8; unset: the precision the classifier was trained with. */
  precision?: Precision;
  /** Where manifest models are stored (default: the package's onnx/ folder, or CONVFEAT_MODEL_DIR). */
  storeDir?: string;
  log?: (line: string) => void;
}

export interface MatchedBackbone {
  prepared: PreparedBackbone;
  /** The EXIF handling whose preprocessing fingerprint the classifier records. */
  exif: ExifMode;
}

/** The backbone a classifier needs, refused with a sentence when the file on hand is a different network. */
export async function backboneForClassifier(clf: LinearClassifier, opts: MatchOptions): Promise<MatchedBackbone> {
  const trainedOn = clf.backbone.model;
  if (opts.model === undefined && trainedOn === 'classical:orb-bow') {
    throw new ConvfeatError(
      `The classifier was trained on classical:orb-bow features; pass the codebook it was extracted with: ${param('model')} CODEBOOK.json.`,
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
      `The classifier was trained on embeddings of ${trainedOn ?? 'an unnamed model'}, which is not a known model; pass the same ONNX file with ${param('model')} FILE.onnx.`,
    );
  }
  const prepared = await prepareBackbone({
    model,
    layer: opts.layer,
    preprocess: opts.preprocess,
    ...(precision !== undefined ? { precision } : {}),
    ...(opts.storeDir !== undefined ? { storeDir: opts.storeDir } : {}),
    log: opts.log,
  });
  if (clf.backbone.fingerprint && prepared.fingerprint !== clf.backbone.fingerprint) {
    throw new ConvfeatError(
      trained !== undefined && prepared.precision !== (trained.precision ?? 'fp32')
        ? `The classifier was fitted on ${trained.precision ?? 'fp32'} embeddings (${trainedOn}) but ${param('precision')} ${prepared.precision} was asked for; drop ${param('precision')}, or refit the classifier on a cache extracted with ${param('precision')} ${prepared.precision}.`
        : `${param('model')} ${model} cut at ${prepared.layer} (fingerprint ${prepared.fingerprint}) is not the backbone the classifier was trained on (${trainedOn}, ${clf.backbone.fingerprint}); pass the same model and ${param('layer')}, or refit the classifier.`,
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

/**
 * The classifier's backbone, matched and opened: one prepare, one open. The embedding size the opened backbone gives
 * is checked against the classifier's before any image is read.
 */
export async function openBackboneForClassifier(
  clf: LinearClassifier,
  opts: MatchOptions & Omit<OpenOptions, 'exif'>,
): Promise<MatchedBackbone & { backbone: OpenBackbone }> {
  const { prepared, exif } = await backboneForClassifier(clf, opts);
  const backbone = await openBackbone(prepared, {
    ...(opts.device !== undefined ? { device: opts.device } : {}),
    ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
    ...(opts.maxPixels !== undefined ? { maxPixels: opts.maxPixels } : {}),
    exif,
    ...(opts.log !== undefined ? { log: opts.log } : {}),
  });
  if (backbone.identity.dim !== clf.dim) {
    await backbone.close();
    throw new ConvfeatError(
      `The classifier expects ${clf.dim}-d embeddings but ${prepared.name} cut at ${prepared.layer} gives ${backbone.identity.dim}-d ones; pass the backbone and layer it was trained on.`,
    );
  }
  return { prepared, exif, backbone };
}
