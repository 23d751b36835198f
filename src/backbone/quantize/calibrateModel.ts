/**
 * `convfeat models quantize MODEL --calibrate DATA`: measure a model's activation ranges on calibration photos, write
 * the range table (what defines the int8 variant) and the int8 embedding graph itself.
 *
 * Calibration set: the first k photos (file-name order) of each class of the train split when the data has splits and
 * labels, k = ceil(count / classes); otherwise the first `count` photos. For the committed resnet50 table that is
 * the first 8 train photos of each of Mini Natural Images' 8 classes.
 */
import { rowCosines } from '../../util/embeddings';
import * as fs from 'fs';
import * as path from 'path';
import { scanDataset } from '../../dataset';
import type { DatasetItem } from '../../dataset';
import { preprocess } from '../../preprocess';
import { outputSize } from '../../preprocess/spec';
import { writeFileAtomicSync } from '../../util/atomic';
import { ConvfeatError, describeError } from '../../util/errors';
import { integerInRange } from '../../util/validate';
import { modelFingerprint } from '../graph/fingerprint';
import { int8TablePath, modelStoreDir, prepareBackbone } from '../load';
import { decodeModel, encodeModel } from '../graph/proto';
import * as ort from 'onnxruntime-node';
import { collectStats, rangeTable, type CalibrationInput, type RangeMethod } from './calibrate';
import { quantizeModel, tensorsToCalibrate } from './qdq';
import { writeRangeTable, RANGE_TABLE_FORMAT, RANGE_TABLE_VERSION, type RangeTableFile } from './table';
import { summarize, type Int8Summary } from './variant';
import { param } from '../../util/params';

/** Chosen by measurement (bench/int8): on ResNet50 it gave the highest embedding cosine to fp32 of the methods tried. */
export const DEFAULT_RANGE_METHOD: RangeMethod = { kind: 'percentile', percentile: 99.999 };
export const DEFAULT_CALIBRATION_IMAGES = 64;

export interface CalibrateRequest {
  model: string;
  layer?: string;
  preprocess?: string;
  /** Calibration photos: an image folder (with or without splits) or a manifest. */
  data: string;
  images?: number;
  method?: RangeMethod;
  threads?: number;
  /** Range table path (default: where --precision int8 looks for it). */
  out?: string;
  storeDir?: string;
  log?: (line: string) => void;
}

export interface CalibrateResult {
  model: string;
  table: string;
  onnx: string;
  images: number;
  tensors: number;
  fp32Fingerprint: string;
  int8Fingerprint: string;
  fp32Bytes: number;
  int8Bytes: number;
  calibrationSeconds: number;
  quantizationSeconds: number;
  summary: Int8Summary;
  /** Embedding cosine int8 vs fp32 on the calibration photos: a first check before measuring on held-out photos. */
  cosine: { mean: number; min: number };
}

async function embedAll(bytes: Uint8Array, input: CalibrationInput, threads?: number): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ['cpu'],
    ...(threads !== undefined ? { intraOpNumThreads: threads } : {}),
  });
  try {
    const per = input.imageDims.reduce((a, b) => a * b, 1);
    const parts: Float32Array[] = [];
    for (let i = 0; i < input.n; i += 8) {
      const m = Math.min(8, input.n - i);
      const feed = new ort.Tensor('float32', input.images.subarray(i * per, (i + m) * per), [m, ...input.imageDims]);
      const out = await session.run({ [session.inputNames[0]!]: feed });
      parts.push(out[session.outputNames[0]!]!.data as Float32Array);
    }
    const all = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    return all;
  } finally {
    await session.release();
  }
}

export function pickCalibrationItems(items: readonly DatasetItem[], count: number): DatasetItem[] {
  const pool = items.some((i) => i.split === 'train') ? items.filter((i) => i.split === 'train') : [...items];
  pool.sort((a, b) => (a.relPath < b.relPath ? -1 : a.relPath > b.relPath ? 1 : 0));
  const labels = [...new Set(pool.map((i) => i.label).filter((l): l is string => l !== undefined))].sort();
  if (labels.length === 0) return pool.slice(0, count);
  const perClass = Math.ceil(count / labels.length);
  return labels.flatMap((l) => pool.filter((i) => i.label === l).slice(0, perClass));
}

function describeSelection(items: readonly DatasetItem[], picked: readonly DatasetItem[]): string {
  const fromTrain = items.some((i) => i.split === 'train');
  const labels = new Set(picked.map((i) => i.label).filter(Boolean)).size;
  return labels > 0
    ? `the first ${Math.ceil(picked.length / labels)} photos (file-name order) of each of ${labels} classes${fromTrain ? ' of the train split' : ''}`
    : `the first ${picked.length} photos in file-name order`;
}

export async function calibrateModel(req: CalibrateRequest): Promise<CalibrateResult> {
  const count = integerInRange(param('images'), req.images ?? DEFAULT_CALIBRATION_IMAGES, 1, 100_000);
  const method = req.method ?? DEFAULT_RANGE_METHOD;
  // The photos first: a wrong --calibrate is found before minutes of fetching or cutting.
  const dataset = await scanDataset(req.data, { inputName: '--calibrate' });
  const picked = pickCalibrationItems(dataset.items, count);
  if (picked.length === 0) throw new ConvfeatError(`--calibrate ${req.data} holds no images to calibrate on.`);
  const prepared = await prepareBackbone({
    model: req.model,
    ...(req.layer !== undefined ? { layer: req.layer } : {}),
    ...(req.preprocess !== undefined ? { preprocess: req.preprocess } : {}),
    ...(req.storeDir !== undefined ? { storeDir: req.storeDir } : {}),
    precision: 'fp32',
    log: req.log,
  });
  const size = outputSize(prepared.spec)!;
  const per = 3 * size.height * size.width;
  const images = new Float32Array(picked.length * per);
  for (let i = 0; i < picked.length; i++) {
    try {
      images.set(await preprocess(fs.readFileSync(picked[i]!.path), { spec: prepared.spec, exif: 'apply' }), i * per);
    } catch (e) {
      throw new ConvfeatError(
        `Calibration photo ${picked[i]!.relPath} cannot be used (${describeError(e)}); remove it or calibrate on other photos.`,
      );
    }
  }
  const imageDims = prepared.spec.layout === 'NCHW' ? [3, size.height, size.width] : [size.height, size.width, 3];
  const fp32Bytes = prepared.cutBytes();
  const fp32 = decodeModel(fp32Bytes, prepared.name);
  const tensors = tensorsToCalibrate(fp32);
  if (tensors.length === 0) {
    throw new ConvfeatError(
      `${prepared.name} has no Conv, Gemm or MatMul with constant weights before its embedding; there is nothing to quantise.`,
    );
  }
  req.log?.(`Calibrating ${tensors.length} activation tensors of ${prepared.name} on ${picked.length} photos`);
  let started = Date.now();
  const stats = await collectStats(fp32, tensors, { images, n: picked.length, imageDims }, { threads: req.threads });
  const calibrationSeconds = (Date.now() - started) / 1000;
  const table: RangeTableFile = {
    format: RANGE_TABLE_FORMAT,
    version: RANGE_TABLE_VERSION,
    model: prepared.name,
    fp32Fingerprint: prepared.fingerprint,
    layer: prepared.layer,
    calibration: {
      images: describeSelection(dataset.items, picked),
      count: picked.length,
      method: method.kind,
      ...(method.kind === 'percentile' ? { percentile: method.percentile } : {}),
    },
    weights: 'int8, symmetric, one scale per output channel (Conv, Gemm); one per tensor (MatMul)',
    activations: 'uint8, asymmetric, one scale per tensor, range widened to contain 0',
    ranges: rangeTable(stats, method),
  };
  started = Date.now();
  const { model, report } = quantizeModel(fp32, { ranges: table.ranges });
  const int8Bytes = encodeModel(model);
  const quantizationSeconds = (Date.now() - started) / 1000;
  // The int8 graph must load and agree with fp32 before it is written: an old opset or an op onnxruntime cannot run
  // on quantised inputs shows here, as one sentence, rather than at the user's next extract.
  const calibration = { images, n: picked.length, imageDims };
  let cosines: number[];
  try {
    const reference = await embedAll(fp32Bytes, calibration, req.threads);
    cosines = rowCosines(reference, await embedAll(int8Bytes, calibration, req.threads), picked.length);
  } catch (e) {
    const opset = Number((fp32.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx')?.version ?? 0);
    throw new ConvfeatError(
      `The int8 graph of ${prepared.name} does not run in onnxruntime (${describeError(e)})${opset < 13 ? `; the model uses ONNX opset ${opset} and int8 needs 13 or later: export it again with torch.onnx.export(..., opset_version=17)` : `; use ${param('precision')} fp32 for this model`}.`,
    );
  }
  // A model with a committed table keeps it: its own calibration goes beside it unless --out says otherwise.
  const entry = prepared.entry;
  const tableFile = path.resolve(
    req.out ??
      (entry?.int8
        ? path.join(modelStoreDir(req.storeDir), `${entry.name}.calibrated.int8.json`)
        : int8TablePath(entry, prepared.file, modelStoreDir(req.storeDir))),
  );
  const onnxFile = tableFile.replace(/\.json$/i, '') + '.onnx';
  try {
    writeRangeTable(tableFile, table);
    writeFileAtomicSync(onnxFile, int8Bytes);
  } catch (e) {
    throw new ConvfeatError(
      `Cannot write ${tableFile} (${describeError(e)}); choose a writable path with ${param('out')}.`,
    );
  }
  return {
    model: prepared.name,
    table: tableFile,
    onnx: onnxFile,
    images: picked.length,
    tensors: tensors.length,
    fp32Fingerprint: prepared.fingerprint,
    int8Fingerprint: modelFingerprint(int8Bytes),
    fp32Bytes: fp32Bytes.length,
    int8Bytes: int8Bytes.length,
    calibrationSeconds,
    quantizationSeconds,
    summary: summarize(report),
    cosine: { mean: cosines.reduce((a, c) => a + c, 0) / cosines.length, min: Math.min(...cosines) },
  };
}
