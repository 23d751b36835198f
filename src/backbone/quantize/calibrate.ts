/**
 * Activation statistics for static quantisation: the fp32 model runs on calibration images with every tensor to
 * quantise exposed as an extra output. Two passes: the first finds each tensor's min and max, the second fills a
 * histogram between them, from which a percentile range is read (clipping rare outliers spends the 256 levels on the
 * values that occur). Both range methods come from the same statistics, so they can be compared on one run.
 */
import * as ort from 'onnxruntime-node';
import { encodeModel, ElemType, onnx } from '../graph/proto';
import { ConvfeatError } from '../../util/errors';
import type { RangeTable } from './qdq';

export const HISTOGRAM_BINS = 8192;

export interface TensorStats {
  min: number;
  max: number;
  count: number;
  /** HISTOGRAM_BINS counts over [min, max]. */
  histogram: Float64Array;
}

export type RangeMethod = { kind: 'minmax' } | { kind: 'percentile'; percentile: number };

export interface CalibrationInput {
  /** n images, contiguous, each of `imageDims` (e.g. [3, 224, 224]). */
  images: Float32Array;
  n: number;
  imageDims: readonly number[];
}

/** The model with `tensors` added as graph outputs (their shapes left for onnxruntime to infer). */
function exposeTensors(model: onnx.ModelProto, tensors: readonly string[]): Uint8Array {
  const g = model.graph!;
  const existing = new Set((g.output ?? []).map((o) => o.name!));
  const extra = tensors
    .filter((t) => !existing.has(t))
    .map((name) => ({ name, type: { tensorType: { elemType: ElemType.FLOAT } } }));
  const graph = onnx.GraphProto.create({ ...g, output: [...(g.output ?? []), ...extra] });
  return encodeModel(onnx.ModelProto.create({ ...model, graph }));
}

async function forEachBatch(
  session: ort.InferenceSession,
  input: CalibrationInput,
  tensors: readonly string[],
  batchSize: number,
  visit: (name: string, data: Float32Array) => void,
): Promise<void> {
  const per = input.imageDims.reduce((a, b) => a * b, 1);
  const inputName = session.inputNames[0]!;
  for (let start = 0; start < input.n; start += batchSize) {
    const m = Math.min(batchSize, input.n - start);
    const data = input.images.subarray(start * per, (start + m) * per);
    const result = await session.run({ [inputName]: new ort.Tensor('float32', data, [m, ...input.imageDims]) }, [
      ...tensors,
    ]);
    for (const t of tensors) {
      const out = result[t];
      if (!out || !(out.data instanceof Float32Array)) {
        throw new ConvfeatError(`Calibration could not read tensor ${t} (it is not float32); it cannot be quantised.`);
      }
      visit(t, out.data);
      out.dispose?.();
    }
  }
}

/** Runs the fp32 `model` on the calibration images and returns min, max and a histogram for each tensor. */
export async function collectStats(
  model: onnx.ModelProto,
  tensors: readonly string[],
  input: CalibrationInput,
  opts: { threads?: number; batchSize?: number } = {},
): Promise<Map<string, TensorStats>> {
  if (input.n < 1) throw new ConvfeatError('Calibration needs at least one image.');
  const session = await ort.InferenceSession.create(exposeTensors(model, tensors), {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    ...(opts.threads !== undefined ? { intraOpNumThreads: opts.threads } : {}),
  });
  const batchSize = opts.batchSize ?? 4;
  const stats = new Map<string, TensorStats>();
  for (const t of tensors) {
    stats.set(t, { min: Infinity, max: -Infinity, count: 0, histogram: new Float64Array(HISTOGRAM_BINS) });
  }
  try {
    await forEachBatch(session, input, tensors, batchSize, (t, data) => {
      const s = stats.get(t)!;
      let lo = s.min;
      let hi = s.max;
      for (let i = 0; i < data.length; i++) {
        const v = data[i]!;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      s.min = lo;
      s.max = hi;
      s.count += data.length;
    });
    for (const [t, s] of stats) {
      if (!Number.isFinite(s.min) || !Number.isFinite(s.max)) {
        throw new ConvfeatError(
          `Tensor ${t} held non-finite values on the calibration images; it cannot be quantised.`,
        );
      }
    }
    await forEachBatch(session, input, tensors, batchSize, (t, data) => {
      const s = stats.get(t)!;
      const width = (s.max - s.min) / HISTOGRAM_BINS;
      const h = s.histogram;
      if (!(width > 0)) {
        h[0] = h[0]! + data.length;
        return;
      }
      for (let i = 0; i < data.length; i++) {
        const b = Math.floor((data[i]! - s.min) / width);
        h[b >= HISTOGRAM_BINS ? HISTOGRAM_BINS - 1 : b < 0 ? 0 : b]!++;
      }
    });
  } finally {
    await session.release();
  }
  return stats;
}

/** The range a method keeps of one tensor; a percentile p keeps [(100−p)th, pth] percentile (bin edges, outward). */
export function rangeOf(s: TensorStats, method: RangeMethod): [number, number] {
  if (method.kind === 'minmax') return [s.min, s.max];
  const total = s.histogram.reduce((a, b) => a + b, 0);
  const tail = (total * (100 - method.percentile)) / 100;
  const width = (s.max - s.min) / HISTOGRAM_BINS;
  let acc = 0;
  let lowBin = 0;
  for (; lowBin < HISTOGRAM_BINS; lowBin++) {
    acc += s.histogram[lowBin]!;
    if (acc > tail) break;
  }
  acc = 0;
  let highBin = HISTOGRAM_BINS - 1;
  for (; highBin > 0; highBin--) {
    acc += s.histogram[highBin]!;
    if (acc > tail) break;
  }
  return [s.min + lowBin * width, s.min + (highBin + 1) * width];
}

/** Ranges for every tensor, rounded to float32 and to 7 significant digits so the committed table is stable text. */
export function rangeTable(stats: Map<string, TensorStats>, method: RangeMethod): RangeTable {
  const table: Record<string, [number, number]> = {};
  const tidy = (v: number) => Number(Math.fround(v).toPrecision(7));
  for (const [t, s] of [...stats].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const [lo, hi] = rangeOf(s, method);
    table[t] = [tidy(lo), tidy(hi)];
  }
  return table;
}
