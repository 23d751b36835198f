/**
 * Folds each BatchNormalization into the Conv that feeds it (W' = W·γ/√(σ²+ε), b' = (b−μ)·γ/√(σ²+ε) + β), so that
 * the weights the quantiser rounds to int8 are the ones the network really applies. onnxruntime does this fusion itself
 * for fp32 graphs, but not once a DequantizeLinear sits between the weight and the Conv.
 */
import { floatTensor, onnx, tensorToFloat32 } from '../graph/proto';

export interface FoldResult {
  model: onnx.ModelProto;
  folded: number;
}

function attrFloat(n: onnx.INodeProto, name: string, fallback: number): number {
  const a = (n.attribute ?? []).find((x) => x.name === name);
  return a && typeof a.f === 'number' ? a.f : fallback;
}

/** Returns a new model; the input model is not modified. BN nodes that cannot be folded are kept as they are. */
export function foldBatchNorms(model: onnx.ModelProto): FoldResult {
  const g = model.graph!;
  const nodes = [...(g.node ?? [])];
  const inits = new Map<string, onnx.ITensorProto>((g.initializer ?? []).map((t) => [t.name!, t]));
  const consumers = new Map<string, number>();
  for (const n of nodes) for (const i of n.input ?? []) consumers.set(i, (consumers.get(i) ?? 0) + 1);
  const graphOutputs = new Set((g.output ?? []).map((o) => o.name!));
  const producer = new Map<string, number>();
  nodes.forEach((n, idx) => (n.output ?? []).forEach((o) => producer.set(o, idx)));

  const removed = new Set<number>();
  const replaced = new Map<string, onnx.ITensorProto>();
  let folded = 0;
  nodes.forEach((bn, bnIdx) => {
    if (bn.opType !== 'BatchNormalization' || (bn.domain ?? '') !== '' || (bn.output ?? []).length !== 1) return;
    const [x, gammaName, betaName, meanName, varName] = bn.input ?? [];
    const convIdx = producer.get(x ?? '');
    if (convIdx === undefined) return;
    const conv = nodes[convIdx]!;
    if (conv.opType !== 'Conv' || (conv.domain ?? '') !== '' || consumers.get(x!) !== 1 || graphOutputs.has(x!)) return;
    const params = [gammaName, betaName, meanName, varName].map((n) => (n ? inits.get(n) : undefined));
    const wName = conv.input?.[1];
    const w = wName ? inits.get(wName) : undefined;
    const bName = conv.input?.[2];
    const b = bName ? inits.get(bName) : undefined;
    if (params.some((p) => !p) || !w || (bName && !b) || (consumers.get(wName!) ?? 0) > 1) return;
    if (bName && (consumers.get(bName) ?? 0) > 1) return;
    const [gamma, beta, mean, variance] = params.map((p) => tensorToFloat32(p!));
    const weights = tensorToFloat32(w);
    const outChannels = Number(w.dims![0]);
    if ([gamma, beta, mean, variance].some((a) => a!.length !== outChannels) || weights.length % outChannels !== 0) {
      return;
    }
    const eps = attrFloat(bn, 'epsilon', 1e-5);
    const per = weights.length / outChannels;
    const newW = new Float32Array(weights.length);
    const newB = new Float32Array(outChannels);
    const oldB = b ? tensorToFloat32(b) : new Float32Array(outChannels);
    for (let m = 0; m < outChannels; m++) {
      const k = gamma![m]! / Math.sqrt(variance![m]! + eps);
      for (let j = 0; j < per; j++) newW[m * per + j] = weights[m * per + j]! * k;
      newB[m] = (oldB[m]! - mean![m]!) * k + beta![m]!;
    }
    const foldedW = `${wName}_bnfolded`;
    const foldedB = `${bName ?? `${conv.name ?? x}_bias`}_bnfolded`;
    replaced.set(foldedW, floatTensor(foldedW, w.dims!.map(Number), newW));
    replaced.set(foldedB, floatTensor(foldedB, [outChannels], newB));
    nodes[convIdx] = { ...conv, input: [conv.input![0]!, foldedW, foldedB], output: [bn.output![0]!] };
    removed.add(bnIdx);
    folded++;
  });
  if (folded === 0) return { model, folded };

  const kept = nodes.filter((_, i) => !removed.has(i));
  const used = new Set<string>();
  for (const n of kept) for (const i of n.input ?? []) used.add(i);
  const initializers = [
    ...(g.initializer ?? []).filter((t) => used.has(t.name!)),
    ...[...replaced.values()].filter((t) => used.has(t.name!)),
  ];
  // Old exports also list initializers as graph inputs: drop those whose initializer is gone.
  const dropped = new Set((g.initializer ?? []).map((t) => t.name!).filter((n) => !used.has(n)));
  const inputs = (g.input ?? []).filter((i) => !dropped.has(i.name!));
  const graph = onnx.GraphProto.create({ ...g, node: kept, input: inputs, initializer: initializers });
  return { model: onnx.ModelProto.create({ ...model, graph }), folded };
}

export interface PadFoldResult {
  model: onnx.ModelProto;
  folded: number;
  /** The Conv's new input → the Pad output it replaced (activation ranges are calibrated and stored under the latter). */
  aliases: Map<string, string>;
}

function attrInts(n: onnx.INodeProto, name: string): number[] | undefined {
  const a = (n.attribute ?? []).find((x) => x.name === name);
  return a?.ints && a.ints.length > 0 ? a.ints.map(Number) : undefined;
}

function attrString(n: onnx.INodeProto, name: string): string | undefined {
  const a = (n.attribute ?? []).find((x) => x.name === name);
  return a?.s ? Buffer.from(a.s).toString() : undefined;
}

function int64Values(t: onnx.ITensorProto | undefined): number[] | undefined {
  if (!t || t.dataType !== onnx.TensorProto.DataType.INT64) return undefined;
  if (t.rawData && t.rawData.length > 0) {
    const raw = t.rawData;
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    return Array.from({ length: raw.byteLength / 8 }, (_, i) => Number(view.getBigInt64(i * 8, true)));
  }
  return (t.int64Data ?? []).map(Number);
}

/** Whether a Pad fills with zeros (constant mode, and its fill — attribute or initializer — absent or 0). */
export function padFillsZeros(pad: onnx.INodeProto, inits: Map<string, onnx.ITensorProto>): boolean {
  if ((attrString(pad, 'mode') ?? 'constant') !== 'constant') return false;
  const fillAttr = (pad.attribute ?? []).find((a) => a.name === 'value');
  if (fillAttr && typeof fillAttr.f === 'number' && fillAttr.f !== 0) return false;
  const fillName = pad.input?.[2];
  if (!fillName) return true;
  const fill = inits.get(fillName);
  return !!fill && fill.dataType === onnx.TensorProto.DataType.FLOAT && tensorToFloat32(fill).every((v) => v === 0);
}

/**
 * The spatial pads of a Pad that only adds zeros around the spatial axes ([begin…, end…]), or undefined when it does
 * anything else (another mode or fill, padding of the batch or channel axis, cropping, pads not constant).
 */
function zeroSpatialPads(pad: onnx.INodeProto, inits: Map<string, onnx.ITensorProto>): number[] | undefined {
  if (!padFillsZeros(pad, inits)) return undefined;
  const pads = pad.input?.[1] ? int64Values(inits.get(pad.input[1])) : attrInts(pad, 'pads');
  if (!pads || pads.length < 6 || pads.length % 2 !== 0 || pads.some((p) => p < 0)) return undefined;
  const rank = pads.length / 2;
  if (pads[0] !== 0 || pads[1] !== 0 || pads[rank] !== 0 || pads[rank + 1] !== 0) return undefined;
  return [...pads.slice(2, rank), ...pads.slice(rank + 2)];
}

/**
 * Folds each Pad that only adds zeros around the spatial axes into the Conv that is its only reader (Keras exports
 * write ZeroPadding2D as a Pad before strided convolutions): the same function, and in the quantised graph the
 * convolution's integer kernel pads with the input's zero point instead of an fp32 Pad running between a
 * DequantizeLinear and a QuantizeLinear (the Keras ResNet50 stem: 1.3 % of the int8 model's time).
 */
export function foldZeroPads(model: onnx.ModelProto): PadFoldResult {
  const g = model.graph!;
  const nodes = [...(g.node ?? [])];
  const inits = new Map<string, onnx.ITensorProto>((g.initializer ?? []).map((t) => [t.name!, t]));
  const readers = new Map<string, number[]>();
  nodes.forEach((n, idx) => (n.input ?? []).forEach((i) => readers.set(i, [...(readers.get(i) ?? []), idx])));
  const graphOutputs = new Set((g.output ?? []).map((o) => o.name!));
  const removed = new Set<number>();
  const aliases = new Map<string, string>();
  nodes.forEach((pad, padIdx) => {
    if (pad.opType !== 'Pad' || (pad.domain ?? '') !== '' || (pad.output ?? []).length !== 1) return;
    const out = pad.output![0]!;
    const users = readers.get(out) ?? [];
    if (users.length !== 1 || graphOutputs.has(out)) return;
    const convIdx = users[0]!;
    const conv = nodes[convIdx]!;
    if (conv.opType !== 'Conv' || (conv.domain ?? '') !== '' || conv.input?.[0] !== out) return;
    if ((attrString(conv, 'auto_pad') ?? 'NOTSET') !== 'NOTSET') return;
    const extra = zeroSpatialPads(pad, inits);
    if (!extra) return;
    const own = attrInts(conv, 'pads') ?? new Array<number>(extra.length).fill(0);
    if (own.length !== extra.length) return;
    const pads = own.map((p, i) => p + extra[i]!);
    const attribute = [
      ...(conv.attribute ?? []).filter((a) => a.name !== 'pads'),
      { name: 'pads', type: onnx.AttributeProto.AttributeType.INTS, ints: pads },
    ];
    nodes[convIdx] = { ...conv, input: [pad.input![0]!, ...conv.input!.slice(1)], attribute };
    aliases.set(pad.input![0]!, out);
    removed.add(padIdx);
  });
  if (removed.size === 0) return { model, folded: 0, aliases };
  const kept = nodes.filter((_, i) => !removed.has(i));
  const used = new Set<string>();
  for (const n of kept) for (const i of n.input ?? []) used.add(i);
  const dropped = new Set((g.initializer ?? []).map((t) => t.name!).filter((n) => !used.has(n)));
  const graph = onnx.GraphProto.create({
    ...g,
    node: kept,
    input: (g.input ?? []).filter((i) => !dropped.has(i.name!)),
    initializer: (g.initializer ?? []).filter((t) => !dropped.has(t.name!)),
  });
  return { model: onnx.ModelProto.create({ ...model, graph }), folded: removed.size, aliases };
}
