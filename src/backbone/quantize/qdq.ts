/**
 * Static QDQ quantisation written with the ONNX graph format directly: each quantised activation gets a
 * QuantizeLinear → DequantizeLinear pair (uint8, asymmetric, one scale per tensor from a calibrated range), each
 * quantised weight is stored as int8 (symmetric, one scale per output channel) behind a DequantizeLinear, and biases
 * become int32 with scale = input scale × weight scale, the layout onnxruntime fuses into integer Conv/MatMul kernels.
 * A graph in this form is still an exact description of the arithmetic, so any runtime can run it; onnxruntime on
 * CPUs with VNNI runs the fused convolutions several times faster than fp32.
 *
 * uint8 activations with int8 weights (U8S8) is onnxruntime's preferred combination on x86.
 */
import { DEFAULT_OPSET, ElemType, node, onnx, tensorToFloat32 } from '../graph/proto';
import { foldBatchNorms, foldZeroPads, padFillsZeros } from './fold';

/** Bump when the bytes this module writes change: the int8 model cache is keyed on it. */
export const QUANTIZER_VERSION = 4;

/** Calibrated activation range per tensor name: [min, max] in fp32 units. */
export type RangeTable = Record<string, readonly [number, number]>;

export interface NodeNote {
  node: string;
  opType: string;
}
export interface KeptFp32 extends NodeNote {
  reason: string;
}

export interface QuantizeReport {
  /** Conv/Gemm/MatMul nodes whose weights are int8 and whose input is quantised. */
  quantized: NodeNote[];
  /** Every other compute node, with why it stays fp32. */
  keptFp32: KeptFp32[];
  /**
   * Value-preserving nodes (MaxPool, a zero Pad, reshapes) between two quantised tensors whose output reuses the
   * input's scale and zero point: they are exact on the int8 values, and onnxruntime runs them so.
   */
  sharedScale: NodeNote[];
  foldedBatchNorms: number;
  /** Zero Pads folded into the convolution that reads them (Keras' ZeroPadding2D). */
  foldedPads: number;
  /** Activation tensors that got a QuantizeLinear/DequantizeLinear pair. */
  activations: string[];
}

export interface QuantizeResult {
  model: onnx.ModelProto;
  report: QuantizeReport;
}

const WEIGHTED = new Set(['Conv', 'Gemm', 'MatMul']);
/** Ops that only move or pick values: they never need their own kernel, so they are not listed as "kept fp32". */
const PLUMBING = new Set(['Identity', 'Flatten', 'Reshape', 'Squeeze', 'Unsqueeze', 'Shape', 'Constant']);

/**
 * Ops whose output values are a subset (or a rearrangement) of their input's: quantised with the input's own scale and
 * zero point, they are exact on the integers, and onnxruntime then drops the DequantizeLinear/QuantizeLinear around
 * them and runs them on uint8 (ResNet's stem MaxPool: without this it ran in fp32 between a dequantise of the stem's
 * 8×64×112×112 output, two layout reorders and a requantise, about 10 % of the int8 model's time).
 */
const VALUE_PRESERVING = new Set(['MaxPool', 'Identity', 'Flatten', 'Reshape', 'Squeeze', 'Unsqueeze', 'Transpose']);

const UINT8_MAX = 255;
const INT8_MAX = 127;
const INT32_MAX = 2147483647;

function rawTensor(name: string, dims: number[], dataType: number, data: ArrayBufferView): onnx.ITensorProto {
  return { name, dims, dataType, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice() };
}

function floatScalars(name: string, values: Float32Array, scalar: boolean): onnx.ITensorProto {
  return rawTensor(name, scalar ? [] : [values.length], ElemType.FLOAT, values);
}

/**
 * uint8 affine parameters for a range: the range is widened to contain 0 so that zero (padding, ReLU's floor) is
 * exactly representable. Scale is rounded to float32 first so the zero point is computed from the stored value.
 */
export function activationParams(min: number, max: number): { scale: number; zeroPoint: number } {
  const lo = Math.min(0, min);
  const hi = Math.max(0, max);
  if (!(hi > lo) || !Number.isFinite(lo) || !Number.isFinite(hi)) return { scale: 1, zeroPoint: 0 };
  const scale = Math.fround((hi - lo) / UINT8_MAX);
  const zeroPoint = Math.min(UINT8_MAX, Math.max(0, Math.round(-lo / scale)));
  return { scale, zeroPoint };
}

/** Symmetric int8 per output channel along `axis` of a 2-D or 4-D weight; returns the int8 values and scales. */
export function quantizeWeights(
  w: Float32Array,
  dims: number[],
  axis: number,
  perChannel: boolean,
): { q: Int8Array; scales: Float32Array } {
  const channels = perChannel ? dims[axis]! : 1;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channelOf = perChannel ? (i: number) => Math.floor(i / inner) % channels : () => 0;
  const absMax = new Float64Array(channels);
  for (let i = 0; i < w.length; i++) {
    const c = channelOf(i);
    const a = Math.abs(w[i]!);
    if (a > absMax[c]!) absMax[c] = a;
  }
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) scales[c] = absMax[c]! > 0 ? absMax[c]! / INT8_MAX : 1;
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) {
    const v = Math.round(w[i]! / scales[channelOf(i)]!);
    q[i] = v > INT8_MAX ? INT8_MAX : v < -INT8_MAX ? -INT8_MAX : v;
  }
  return { q, scales };
}

function intAttr(n: onnx.INodeProto, name: string, fallback: number): number {
  const a = (n.attribute ?? []).find((x) => x.name === name);
  return a && a.i !== undefined && a.i !== null ? Number(a.i) : fallback;
}
function floatAttr(n: onnx.INodeProto, name: string, fallback: number): number {
  const a = (n.attribute ?? []).find((x) => x.name === name);
  return a && typeof a.f === 'number' ? a.f : fallback;
}

interface WeightPlan {
  axis: number;
  perChannel: boolean;
}

/** How a weighted node's weight is laid out, or why it cannot be quantised. */
function weightPlan(n: onnx.INodeProto, w: onnx.ITensorProto | undefined): WeightPlan | string {
  if (!w) return 'its weight is not a constant initializer';
  if (w.dataType !== ElemType.FLOAT) return 'its weight is not float32';
  const rank = (w.dims ?? []).length;
  if (n.opType === 'Conv') return rank >= 3 ? { axis: 0, perChannel: true } : 'its weight has an unexpected rank';
  if (rank !== 2) return 'its weight is not a 2-D matrix';
  if (n.opType === 'Gemm') {
    if (intAttr(n, 'transA', 0) !== 0) return 'it transposes its input (transA)';
    if (floatAttr(n, 'alpha', 1) !== 1 || floatAttr(n, 'beta', 1) !== 1) return 'alpha or beta is not 1';
    return { axis: intAttr(n, 'transB', 0) === 1 ? 0 : 1, perChannel: true };
  }
  // MatMul: onnxruntime's integer MatMul wants one scale for the whole weight.
  return { axis: 1, perChannel: false };
}

export interface QuantizeOptions {
  ranges: RangeTable;
  /**
   * Also quantise the outputs of quantised nodes when their range is known (default true): onnxruntime then fuses
   * DequantizeLinear → Conv → QuantizeLinear into QLinearConv and the residual Adds into QLinearAdd. Measured on
   * ResNet50: with inputs only, 20 of 53 convolutions stay fp32 and the model is about 2.2× slower.
   */
  quantizeOutputs?: boolean;
}

/**
 * Whether `n` only moves or picks its first input's values, so its output can share that input's quantisation: the
 * VALUE_PRESERVING ops, and a constant Pad whose fill is 0 (zero is exact in every uint8 affine form made here).
 */
function passesValues(n: onnx.INodeProto, inits: Map<string, onnx.ITensorProto>): boolean {
  if ((n.domain ?? '') !== '' || !n.input?.[0]) return false;
  if (VALUE_PRESERVING.has(n.opType ?? '')) return true;
  return n.opType === 'Pad' && padFillsZeros(n, inits);
}

/**
 * Where a weighted node's output is quantised: after its ReLU when the ReLU is its only consumer. The range is then
 * [0, max] instead of spending half the 256 levels on negatives the ReLU discards, and onnxruntime still fuses
 * DequantizeLinear → Conv → Relu → QuantizeLinear into one QLinearConv.
 */
function reluAfter(g: onnx.IGraphProto): (tensor: string | undefined) => string | undefined {
  const consumers = new Map<string, onnx.INodeProto[]>();
  for (const n of g.node ?? []) for (const i of n.input ?? []) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const outputs = new Set((g.output ?? []).map((o) => o.name!));
  return (tensor) => {
    if (tensor === undefined || outputs.has(tensor)) return tensor;
    const users = consumers.get(tensor) ?? [];
    const only = users.length === 1 ? users[0]! : undefined;
    return only && only.opType === 'Relu' && (only.domain ?? '') === '' ? only.output![0]! : tensor;
  };
}

/**
 * The activation tensors a calibration must measure for `model`: the data inputs of every Conv/Gemm/MatMul whose
 * weight is a constant, and their outputs. Computed on the BatchNorm-folded graph, whose tensor names are a subset of
 * the original's (a folded Conv takes its BatchNorm's output name).
 */
export function tensorsToCalibrate(model: onnx.ModelProto): string[] {
  const { model: folded, aliases } = foldZeroPads(foldBatchNorms(model).model);
  const g = folded.graph!;
  // A convolution that absorbed a zero Pad reads the Pad's input; its range is still measured (and stored) under the
  // Pad's output name, a tensor the original model has.
  const stored = (t: string) => aliases.get(t) ?? t;
  const inits = new Map((g.initializer ?? []).map((t) => [t.name!, t]));
  const afterRelu = reluAfter(g);
  const out = new Set<string>();
  for (const n of g.node ?? []) {
    if (!WEIGHTED.has(n.opType ?? '') || (n.domain ?? '') !== '') continue;
    if (typeof weightPlan(n, inits.get(n.input?.[1] ?? '')) === 'string') continue;
    out.add(stored(n.input![0]!));
    out.add(afterRelu(n.output![0]!)!);
  }
  return [...out];
}

/** Quantises `model` (fp32) with the calibrated `ranges`; returns the new model and what was and was not quantised. */
export function quantizeModel(model: onnx.ModelProto, options: QuantizeOptions): QuantizeResult {
  const { model: bnFolded, folded: foldedBatchNorms } = foldBatchNorms(model);
  const { model: folded, folded: foldedPads, aliases } = foldZeroPads(bnFolded);
  const g = folded.graph!;
  const ranges = options.ranges;
  const inits = new Map((g.initializer ?? []).map((t) => [t.name!, t]));
  const consumers = new Map<string, number>();
  for (const n of g.node ?? []) for (const i of n.input ?? []) consumers.set(i, (consumers.get(i) ?? 0) + 1);

  const quantizedOutput = reluAfter(g);
  const quantized: NodeNote[] = [];
  const keptFp32: KeptFp32[] = [];
  const newInits: onnx.ITensorProto[] = [];
  const dropInits = new Set<string>();
  const rewritten = new Map<number, onnx.INodeProto>();
  const pending: Array<() => void> = [];
  const weightNodes = new Map<number, onnx.INodeProto[]>();
  const known = (t: string) => Object.hasOwn(ranges, t) && Array.isArray(ranges[t]);
  /** Where `t`'s range is stored: under its own name, or under the Pad output a folded convolution used to read. */
  const rangeKey = (t: string) => (known(t) ? t : (aliases.get(t) ?? t));
  const has = (t: string) => known(rangeKey(t));
  const producer = new Map<string, onnx.INodeProto>();
  for (const n of g.node ?? []) for (const o of n.output ?? []) producer.set(o, n);
  const qdqTensors = new Set<string>();
  /**
   * The quantised tensor whose scale and zero point `t` reuses: itself, or, when `t` comes from a chain of
   * value-preserving ops (or a zero Pad) starting at another quantised tensor, that tensor.
   */
  const paramSource = (t: string): string => {
    let cur = t;
    for (let hops = 0; hops < 16; hops++) {
      const p = producer.get(cur);
      if (!p || !passesValues(p, inits)) return t;
      cur = p.input![0]!;
      if (qdqTensors.has(cur)) return cur;
    }
    return t;
  };
  const actParams = (t: string) => {
    const src = rangeKey(paramSource(t));
    return activationParams(ranges[src]![0], ranges[src]![1]);
  };

  (g.node ?? []).forEach((n, idx) => {
    const op = n.opType ?? '';
    const name = n.name || n.output?.[0] || `${op}_${idx}`;
    if (op === 'QuantizeLinear' || op === 'DequantizeLinear' || PLUMBING.has(op)) return;
    if (!WEIGHTED.has(op) || (n.domain ?? '') !== '') {
      keptFp32.push({ node: name, opType: op, reason: 'convfeat quantises only Conv, Gemm and MatMul' });
      return;
    }
    const x = n.input?.[0] ?? '';
    const wName = n.input?.[1] ?? '';
    const plan = weightPlan(n, inits.get(wName));
    if (typeof plan === 'string') return void keptFp32.push({ node: name, opType: op, reason: plan });
    if (!has(x))
      return void keptFp32.push({ node: name, opType: op, reason: `no calibrated range for its input ${x}` });
    if ((consumers.get(wName) ?? 0) > 1) {
      return void keptFp32.push({ node: name, opType: op, reason: 'its weight is shared with another node' });
    }
    qdqTensors.add(x);
    const y = quantizedOutput(n.output?.[0]);
    if ((options.quantizeOutputs ?? true) && y && has(y)) qdqTensors.add(y);
    quantized.push({ node: name, opType: op });
    // The weights are written once every quantised tensor is known: a bias's scale depends on its input's
    // quantisation, which may be shared with a tensor quantised for a later node (paramSource).
    pending.push(() => {
      const w = inits.get(wName)!;
      const dims = w.dims!.map(Number);
      const { q, scales } = quantizeWeights(tensorToFloat32(w), dims, plan.axis, plan.perChannel);
      const axisAttr: Record<string, number> = plan.perChannel ? { axis: plan.axis } : {};
      const extra: onnx.INodeProto[] = [];
      newInits.push(
        rawTensor(`${wName}_int8`, dims, ElemType.INT8, q),
        floatScalars(`${wName}_scale`, scales, !plan.perChannel),
        rawTensor(
          `${wName}_zero_point`,
          plan.perChannel ? [scales.length] : [],
          ElemType.INT8,
          new Int8Array(scales.length),
        ),
      );
      extra.push(
        node('DequantizeLinear', [`${wName}_int8`, `${wName}_scale`, `${wName}_zero_point`], [`${wName}_dq`], axisAttr),
      );
      dropInits.add(wName);
      const inputs = [x, `${wName}_dq`];
      const bName = n.input?.[2];
      if (bName) {
        const b = inits.get(bName);
        const outChannels = dims[plan.axis]!;
        const bias = b && b.dataType === ElemType.FLOAT ? tensorToFloat32(b) : undefined;
        if (bias && bias.length === outChannels && (consumers.get(bName) ?? 0) === 1) {
          // int32 bias with scale = x_scale·w_scale, the form onnxruntime folds into the integer kernel's accumulator.
          const xs = actParams(x).scale;
          const bScales = new Float32Array(outChannels);
          const bq = new Int32Array(outChannels);
          for (let c = 0; c < outChannels; c++) {
            bScales[c] = Math.fround(xs * scales[plan.perChannel ? c : 0]!);
            const v = Math.round(bias[c]! / bScales[c]!);
            bq[c] = Math.max(-INT32_MAX, Math.min(INT32_MAX, v));
          }
          newInits.push(
            rawTensor(`${bName}_int32`, [outChannels], ElemType.INT32, bq),
            floatScalars(`${bName}_scale`, bScales, false),
            rawTensor(`${bName}_zero_point`, [outChannels], ElemType.INT32, new Int32Array(outChannels)),
          );
          extra.push(
            node('DequantizeLinear', [`${bName}_int32`, `${bName}_scale`, `${bName}_zero_point`], [`${bName}_dq`], {
              axis: 0,
            }),
          );
          dropInits.add(bName);
          inputs.push(`${bName}_dq`);
        } else {
          inputs.push(bName);
        }
      }
      rewritten.set(idx, { ...n, input: inputs });
      weightNodes.set(idx, extra);
    });
  });
  for (const write of pending) write();

  // The nodes on a shared-scale chain move int8 values: they are not "kept fp32".
  const onChain = new Set<onnx.INodeProto>();
  for (const t of qdqTensors) {
    if (paramSource(t) === t) continue;
    for (let cur = t; !qdqTensors.has(cur) || cur === t;) {
      const p = producer.get(cur)!;
      onChain.add(p);
      cur = p.input![0]!;
    }
  }
  const nameOf = (n: onnx.INodeProto) => n.name || n.output?.[0] || n.opType || '';
  const chainNames = new Set([...onChain].map(nameOf));
  const sharedScale = (g.node ?? [])
    .filter((n) => onChain.has(n) && !PLUMBING.has(n.opType ?? ''))
    .map((n) => ({ node: nameOf(n), opType: n.opType ?? '' }));
  const stillFp32 = keptFp32.filter((k) => !chainNames.has(k.node));

  // Every consumer of a quantised tensor reads its dequantised copy; graph outputs keep the fp32 tensor.
  const dq = (t: string) => (qdqTensors.has(t) ? `${t}_dequantized` : t);
  const qdqPair = (t: string): onnx.INodeProto[] => {
    const { scale, zeroPoint } = actParams(t);
    newInits.push(
      floatScalars(`${t}_scale`, Float32Array.of(scale), true),
      rawTensor(`${t}_zero_point`, [], ElemType.UINT8, Uint8Array.of(zeroPoint)),
    );
    return [
      node('QuantizeLinear', [t, `${t}_scale`, `${t}_zero_point`], [`${t}_quantized`], {}, `${t}_QuantizeLinear`),
      node(
        'DequantizeLinear',
        [`${t}_quantized`, `${t}_scale`, `${t}_zero_point`],
        [`${t}_dequantized`],
        {},
        `${t}_DequantizeLinear`,
      ),
    ];
  };
  const nodes: onnx.INodeProto[] = [];
  for (const i of g.input ?? []) if (qdqTensors.has(i.name!)) nodes.push(...qdqPair(i.name!));
  (g.node ?? []).forEach((n, idx) => {
    const base = rewritten.get(idx) ?? n;
    nodes.push(...(weightNodes.get(idx) ?? []));
    nodes.push({ ...base, input: (base.input ?? []).map((i) => (i === '' ? i : dq(i))) });
    for (const o of n.output ?? []) if (qdqTensors.has(o)) nodes.push(...qdqPair(o));
  });

  const initializers = [...(g.initializer ?? []).filter((t) => !dropInits.has(t.name!)), ...newInits];
  const inputs = (g.input ?? []).filter((i) => !dropInits.has(i.name!));
  const graph = onnx.GraphProto.create({ ...g, node: nodes, input: inputs, initializer: initializers, valueInfo: [] });
  // QuantizeLinear/DequantizeLinear with a per-channel axis need opset 13.
  const opsetImport = (folded.opsetImport ?? []).map((o) =>
    !o.domain || o.domain === 'ai.onnx' ? { ...o, version: Math.max(Number(o.version), DEFAULT_OPSET) } : o,
  );
  const out = onnx.ModelProto.create({ ...folded, graph, opsetImport });
  return {
    model: out,
    report: { quantized, keptFp32: stillFp32, sharedScale, foldedBatchNorms, foldedPads, activations: [...qdqTensors] },
  };
}
