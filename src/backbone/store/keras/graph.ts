/**
 * The ONNX graph under construction while Keras layers are translated, plus the tensor bookkeeping they share.
 *
 * Layout rule: Keras works channels-last, the ONNX graph works channels-first. A Keras tensor of rank 3 (H, W, C,
 * batch excluded) lives in the graph as NCHW; every other rank keeps Keras's own axis order. Shapes are tracked in
 * Keras order (batch excluded, null = unknown) because padding and flatten arithmetic is written in Keras terms.
 */
import { floatTensor, int64Tensor, node, onnx, type AttrValue } from '../../graph/proto';

export type Dim = number | null;

export interface KTensor {
  /** Name of the ONNX value that holds this Keras tensor. */
  name: string;
  /** Keras shape without the batch axis; rank 3 means the graph holds it as NCHW. */
  shape: Dim[];
}

/** Keras axis (batch = 0, may be negative) → graph axis, honouring the NCHW layout of rank-3 tensors. */
export function graphAxis(kerasAxis: number, rank: number): number {
  const full = rank + 1;
  const axis = kerasAxis < 0 ? kerasAxis + full : kerasAxis;
  if (rank !== 3 || axis === 0) return axis;
  return axis === 3 ? 1 : axis + 1;
}

export class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  private readonly taken = new Set<string>();
  private readonly constants = new Map<string, string>();

  /** A fresh value name derived from a Keras layer name. */
  fresh(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_./:-]/g, '_');
    let name = clean;
    for (let i = 1; this.taken.has(name); i++) name = `${clean}_${i}`;
    this.taken.add(name);
    return name;
  }

  reserve(name: string): void {
    this.taken.add(name);
  }

  /** Adds a node with one output and returns the output's name. */
  op(opType: string, inputs: string[], base: string, attrs: Record<string, AttrValue> = {}): string {
    const out = this.fresh(base);
    this.nodes.push(node(opType, inputs, [out], attrs, out));
    return out;
  }

  floatInit(base: string, dims: readonly number[], data: Float32Array): string {
    const name = this.fresh(base);
    this.initializers.push(floatTensor(name, dims, data));
    return name;
  }

  /** int64 constants (shapes, pads, axes) are shared by value so repeated layers do not repeat them. */
  int64Init(base: string, values: readonly number[]): string {
    const key = values.join(',');
    const cached = this.constants.get(key);
    if (cached) return cached;
    const name = this.fresh(base);
    this.initializers.push(int64Tensor(name, [values.length], values));
    this.constants.set(key, name);
    return name;
  }

  /** Scalar float constant, shared by value. */
  scalar(value: number): string {
    const key = `f:${value}`;
    const cached = this.constants.get(key);
    if (cached) return cached;
    const name = this.fresh(`const_${value}`);
    this.initializers.push(floatTensor(name, [], Float32Array.of(value)));
    this.constants.set(key, name);
    return name;
  }
}

/** Reorders a dense row-major array: out[perm-indexed] = in; used to turn Keras kernels into ONNX kernels. */
export function transposeData(
  data: Float32Array,
  shape: readonly number[],
  perm: readonly number[],
): { data: Float32Array; shape: number[] } {
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]!);
  const inStrides = new Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) inStrides[i] = inStrides[i + 1]! * shape[i + 1]!;
  const strideForOut = perm.map((p) => inStrides[p]!);
  const out = new Float32Array(data.length);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let i = 0; i < rank; i++) src += idx[i]! * strideForOut[i]!;
    out[o] = data[src]!;
    for (let i = rank - 1; i >= 0; i--) {
      idx[i]!++;
      if (idx[i]! < outShape[i]!) break;
      idx[i] = 0;
    }
  }
  return { data: out, shape: outShape };
}
