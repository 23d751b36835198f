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
