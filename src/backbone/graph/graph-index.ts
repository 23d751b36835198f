/**
 * Read-only index over an ONNX graph: who produces and who consumes each tensor, which tensors are constants, and the
 * image input. The head cutter, the shape inference and `models inspect` all ask these questions.
 */
import { ConvfeatError } from '../../util/errors';
import { dimsOf, ElemType, onnx } from './proto';

export type Dim = number | string;

export interface ImageInput {
  name: string;
  dims: Dim[];
}

export class GraphIndex {
  readonly graph: onnx.IGraphProto;
  readonly nodes: onnx.INodeProto[];
  readonly producer = new Map<string, onnx.INodeProto>();
  readonly consumers = new Map<string, onnx.INodeProto[]>();
  readonly initializers = new Map<string, onnx.ITensorProto>();
  /** Outputs of Constant nodes, so that shape tensors written either way read the same. */
  readonly constants = new Map<string, onnx.ITensorProto>();
  readonly graphInputs: onnx.IValueInfoProto[];

  constructor(graph: onnx.IGraphProto) {
    this.graph = graph;
    this.nodes = graph.node ?? [];
    for (const t of graph.initializer ?? []) if (t.name) this.initializers.set(t.name, t);
    for (const n of this.nodes) {
      for (const out of n.output ?? []) if (out) this.producer.set(out, n);
      for (const inp of n.input ?? []) {
        if (!inp) continue;
        const list = this.consumers.get(inp);
        if (list) list.push(n);
        else this.consumers.set(inp, [n]);
      }
      if (n.opType === 'Constant') {
        const value = (n.attribute ?? []).find((a) => a.name === 'value')?.t;
        if (value && n.output?.[0]) this.constants.set(n.output[0], value);
      }
    }
    // Older torch exports (keep_initializers_as_inputs) also list every weight as a graph input.
    this.graphInputs = (graph.input ?? []).filter((v) => v.name && !this.initializers.has(v.name));
  }

  isConstant(tensor: string): boolean {
    return this.initializers.has(tensor) || this.constants.has(tensor);
  }

  constantTensor(tensor: string): onnx.ITensorProto | undefined {
    return this.initializers.get(tensor) ?? this.constants.get(tensor);
  }

  /** The inputs of a node that carry data rather than weights; empty names (omitted optional inputs) are skipped. */
  dataInputs(n: onnx.INodeProto): string[] {
    return (n.input ?? []).filter((t) => t && !this.isConstant(t));
  }

  isGraphInput(tensor: string): boolean {
    return this.graphInputs.some((v) => v.name === tensor);
  }

  /** Every tensor name the graph mentions as a node output or a graph input, in graph order. */
  tensorNames(): string[] {
    const names = this.graphInputs.map((v) => v.name as string);
    for (const n of this.nodes) for (const out of n.output ?? []) if (out) names.push(out);
    return names;
  }
}

export function intAttr(n: onnx.INodeProto, name: string, fallback: number): number {
  const a = (n.attribute ?? []).find((x) => x.name === name);
  return a && a.i !== undefined && a.i !== null ? Number(a.i) : fallback;
}

export function intsAttr(n: onnx.INodeProto, name: string): number[] | undefined {
  const a = (n.attribute ?? []).find((x) => x.name === name);
  return a?.ints && a.ints.length > 0 ? a.ints.map((v) => Number(v)) : undefined;
}

export function stringAttr(n: onnx.INodeProto, name: string): string | undefined {
  const a = (n.attribute ?? []).find((x) => x.name === name);
  return a?.s ? Buffer.from(a.s).toString('utf8') : undefined;
}

export function tensorDims(t: onnx.ITensorProto): number[] {
  return (t.dims ?? []).map((d) => Number(d));
}

/** Integer values of an INT64/INT32 constant (Reshape shapes, Gather indices, axes). */
export function intValues(t: onnx.ITensorProto): number[] {
  if (t.rawData && t.rawData.length > 0) {
    const raw = Buffer.from(t.rawData);
    if (t.dataType === ElemType.INT64) {
      const out: number[] = [];
      for (let i = 0; i + 8 <= raw.length; i += 8) out.push(Number(raw.readBigInt64LE(i)));
      return out;
    }
    if (t.dataType === ElemType.INT32) {
      const out: number[] = [];
      for (let i = 0; i + 4 <= raw.length; i += 4) out.push(raw.readInt32LE(i));
      return out;
    }
    return [];
  }
  if (t.int64Data && t.int64Data.length > 0) return t.int64Data.map((v) => Number(v));
  return (t.int32Data ?? []).map((v) => Number(v));
}

/**
 * The image input: the first non-weight graph input of rank 4 and element type float. Anything else is not an image
 * classifier convfeat can feed, and the sentence says what the model takes instead.
 */
export function findImageInput(index: GraphIndex, source: string): ImageInput {
  for (const v of index.graphInputs) {
    const elemType = v.type?.tensorType?.elemType;
    const dims = dimsOf(v);
    if (elemType === ElemType.FLOAT && dims.length === 4) return { name: v.name as string, dims };
  }
  const found = index.graphInputs
    .map((v) => `${v.name} [${dimsOf(v).join(', ')}] ${elemTypeName(v.type?.tensorType?.elemType)}`)
    .join('; ');
  throw new ConvfeatError(
    `${source} has no 4-D float image input (it takes ${found || 'no inputs'}); convfeat needs an image model whose input is [batch, 3, height, width] float32.`,
  );
}

export function elemTypeName(t: number | null | undefined): string {
  if (t === undefined || t === null) return 'unknown';
  const name = (ElemType as unknown as Record<number, string>)[t];
  return name ? name.toLowerCase() : `type ${t}`;
}
