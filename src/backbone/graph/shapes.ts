/**
 * Static shape inference for the ops image classifiers are made of, so that `models inspect` and the head cutter can
 * state embedding dimensions without running the model (a VGG16 file is half a gigabyte). Dimensions are numbers,
 * symbolic names ('batch') or '?' when unknown; an op we do not model leaves its outputs without a shape. Small
 * integer tensors (Shape → Gather → Unsqueeze → Concat, as old `x.view(x.size(0), -1)` exports compute a Reshape
 * target) are evaluated symbolically so that such a Reshape still gets its shape.
 */
import { dimsOf, onnx } from './proto';
import { Dim, GraphIndex, intAttr, intsAttr, intValues, stringAttr, tensorDims } from './graph-index';

export type Shape = Dim[];

const SAME_SHAPE_OPS = new Set([
  'Identity',
  'Relu',
  'LeakyRelu',
  'PRelu',
  'Sigmoid',
  'Tanh',
  'Clip',
  'Dropout',
  'Softmax',
  'LogSoftmax',
  'BatchNormalization',
  'InstanceNormalization',
  'LRN',
  'Elu',
  'Selu',
  'HardSigmoid',
  'HardSwish',
  'Erf',
  'Cast',
  'Neg',
  'Sqrt',
  'Exp',
  'Abs',
  'Gelu',
  'Mish',
  'Softplus',
]);
const BROADCAST_OPS = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum']);

export function inferShapes(index: GraphIndex, inputOverride?: { name: string; dims: Shape }): Map<string, Shape> {
  const shapes = new Map<string, Shape>();
  const values = new Map<string, Dim[]>();
  for (const v of index.graphInputs) shapes.set(v.name as string, dimsOf(v));
  if (inputOverride) shapes.set(inputOverride.name, inputOverride.dims);
  for (const [name, t] of index.initializers) {
    shapes.set(name, tensorDims(t));
    if (isSmallInt(t)) values.set(name, intValues(t));
  }
  for (const [name, t] of index.constants) {
    shapes.set(name, tensorDims(t));
    if (isSmallInt(t)) values.set(name, intValues(t));
  }
  for (const n of index.nodes) {
    try {
      inferNode(n, shapes, values);
    } catch {
      // A malformed attribute leaves this node's outputs unknown; inference is advisory, never fatal.
    }
  }
  // Where an op is beyond this inference, the shapes the file declares (outputs, value_info) still count.
  for (const v of [...(index.graph.output ?? []), ...(index.graph.valueInfo ?? [])]) {
    const declared = dimsOf(v);
    if (v.name && !shapes.has(v.name) && declared.length > 0) shapes.set(v.name, declared);
  }
  return shapes;
}

function isSmallInt(t: onnx.ITensorProto): boolean {
  const count = tensorDims(t).reduce((a, b) => a * b, 1);
  return (
    (t.dataType === onnx.TensorProto.DataType.INT64 || t.dataType === onnx.TensorProto.DataType.INT32) && count <= 16
  );
}

function inferNode(n: onnx.INodeProto, shapes: Map<string, Shape>, values: Map<string, Dim[]>): void {
  const op = n.opType ?? '';
  const ins = (n.input ?? []).map((t) => (t ? shapes.get(t) : undefined));
  const x = ins[0];
  const out = n.output?.[0];
  if (!out) return;
  const set = (s: Shape | undefined): void => {
    if (s) shapes.set(out, s);
  };
  const inValue = (i: number): Dim[] | undefined => (n.input?.[i] ? values.get(n.input[i] as string) : undefined);

  if (SAME_SHAPE_OPS.has(op)) {
    set(x && [...x]);
    const v = inValue(0);
    if (op === 'Identity' || op === 'Cast') if (v) values.set(out, v);
    return;
  }
  if (BROADCAST_OPS.has(op)) {
    const known = ins.filter((s): s is Shape => s !== undefined);
    if (known.length === ins.length && known.length > 0) set(known.reduce(broadcast));
    return;
  }
  switch (op) {
    case 'Conv': {
      const w = ins[1];
      if (!x || !w) return;
      set([x[0] as Dim, w[0] as Dim, ...spatial(n, x.slice(2), w.slice(2), false)]);
      return;
    }
    case 'MaxPool':
    case 'AveragePool':
    case 'LpPool': {
      const k = intsAttr(n, 'kernel_shape');
      if (!x || !k) return;
      set([x[0] as Dim, x[1] as Dim, ...spatial(n, x.slice(2), k, intAttr(n, 'ceil_mode', 0) === 1)]);
      return;
    }
    case 'GlobalAveragePool':
    case 'GlobalMaxPool':
      set(x && [x[0] as Dim, x[1] as Dim, ...x.slice(2).map(() => 1)]);
      return;
    case 'Flatten': {
      if (!x) return;
      let axis = intAttr(n, 'axis', 1);
      if (axis < 0) axis += x.length;
      set([product(x.slice(0, axis)), product(x.slice(axis))]);
      return;
    }
    case 'Reshape': {
      const target = inValue(1);
      if (x && target) set(reshape(x, target, intAttr(n, 'allowzero', 0) === 1));
      return;
    }
    case 'Gemm': {
      const b = ins[1];
      if (!x || !b || x.length !== 2 || b.length !== 2) return;
      const m = intAttr(n, 'transA', 0) ? x[1] : x[0];
      set([m as Dim, (intAttr(n, 'transB', 0) ? b[0] : b[1]) as Dim]);
      return;
    }
    case 'MatMul': {
      const b = ins[1];
      if (!x || !b || x.length < 2 || b.length !== 2) return;
      set([...x.slice(0, -1), b[1] as Dim]);
      return;
    }
    case 'Concat': {
      if (ins.some((s) => !s)) {
        return;
      }
      const all = ins as Shape[];
      let axis = intAttr(n, 'axis', 0);
      if (axis < 0) axis += all[0]!.length;
      const s = [...all[0]!];
      s[axis] = product(
        all.map((a) => a[axis] as Dim),
        'sum',
      );
      set(s);
      const vs = (n.input ?? []).map((t) => values.get(t as string));
      if (vs.every((v) => v !== undefined)) values.set(out, (vs as Dim[][]).flat());
      return;
    }
    case 'Squeeze':
    case 'Unsqueeze': {
      const axes = intsAttr(n, 'axes') ?? (inValue(1) as number[] | undefined);
      if (!x) return;
      if (op === 'Squeeze') {
        const drop = new Set(
          (axes ?? x.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0)).map((a) => (a < 0 ? a + x.length : a)),
        );
        set(x.filter((_, i) => !drop.has(i)));
      } else if (axes) {
        const rank = x.length + axes.length;
        const add = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
        const s: Shape = [];
        let j = 0;
        for (let i = 0; i < rank; i++) s.push(add.has(i) ? 1 : (x[j++] as Dim));
        set(s);
        const v = inValue(0);
        if (v && x.length === 0) values.set(out, v);
      }
      return;
    }
    case 'ReduceMean':
    case 'ReduceMax': {
      const axes = intsAttr(n, 'axes') ?? (inValue(1) as number[] | undefined);
      if (!x || !axes) return;
      const red = new Set(axes.map((a) => (a < 0 ? a + x.length : a)));
      const keep = intAttr(n, 'keepdims', 1) === 1;
      set(keep ? x.map((d, i) => (red.has(i) ? 1 : d)) : x.filter((_, i) => !red.has(i)));
      return;
    }
    case 'Transpose': {
      if (!x) return;
      const perm = intsAttr(n, 'perm') ?? x.map((_, i) => x.length - 1 - i);
      set(perm.map((p) => x[p] as Dim));
      return;
    }
    case 'Pad': {
      // Opset 11 moved the pads from an attribute to an input.
      const pads = intsAttr(n, 'pads') ?? inValue(1);
      if (!x || !pads || pads.length !== 2 * x.length) return;
      set(
        x.map((d, i) => {
          const before = pads[i];
          const after = pads[i + x.length];
          if (before === 0 && after === 0) return d;
          return typeof d === 'number' && typeof before === 'number' && typeof after === 'number'
            ? d + before + after
            : '?';
        }),
      );
      return;
    }
    case 'Shape':
      if (x) {
        set([x.length]);
        values.set(out, [...x]);
      }
      return;
    case 'Gather': {
      const v = inValue(0);
      const idx = inValue(1);
      const idxShape = ins[1];
      if (!v || !idx || !idxShape) return;
      const picked = idx.map((i) => v[typeof i === 'number' && i < 0 ? i + v.length : (i as number)] ?? '?');
      set(idxShape.length === 0 ? [] : [picked.length]);
      values.set(out, picked);
      return;
    }
    default:
      return;
  }
}

function spatial(n: onnx.INodeProto, input: Shape, kernel: Shape, ceil: boolean): Dim[] {
  const rank = input.length;
  const strides = intsAttr(n, 'strides') ?? new Array<number>(rank).fill(1);
  const dilations = intsAttr(n, 'dilations') ?? new Array<number>(rank).fill(1);
  const pads = intsAttr(n, 'pads') ?? new Array<number>(2 * rank).fill(0);
  const autoPad = stringAttr(n, 'auto_pad') ?? 'NOTSET';
  return input.map((d, i) => {
    const k = kernel[i];
    const s = strides[i] ?? 1;
    if (typeof d !== 'number' || typeof k !== 'number') return '?';
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return Math.ceil(d / s);
    const effective = (dilations[i] ?? 1) * (k - 1) + 1;
    const padded = autoPad === 'VALID' ? d : d + (pads[i] ?? 0) + (pads[i + rank] ?? 0);
    const q = (padded - effective) / s;
    return (ceil ? Math.ceil(q) : Math.floor(q)) + 1;
  });
}

function broadcast(a: Shape, b: Shape): Shape {
  const rank = Math.max(a.length, b.length);
  const out: Shape = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da === 1) out.push(db);
    else if (db === 1 || da === db) out.push(da);
    else if (typeof da === 'number' && typeof db === 'number') out.push('?');
    else out.push(typeof da === 'number' ? da : db === '?' ? da : db);
  }
  return out;
}

/** Product (or sum) of dimensions; a single symbolic factor is kept when the rest multiply to 1. */
function product(dims: Dim[], mode: 'product' | 'sum' = 'product'): Dim {
  if (mode === 'sum')
    return dims.every((d) => typeof d === 'number') ? (dims as number[]).reduce((a, b) => a + b, 0) : '?';
  const symbols = dims.filter((d) => typeof d !== 'number');
  const numeric = (dims.filter((d) => typeof d === 'number') as number[]).reduce((a, b) => a * b, 1);
  if (symbols.length === 0) return numeric;
  if (symbols.length === 1 && numeric === 1) return symbols[0] as Dim;
  return '?';
}

function reshape(input: Shape, target: Dim[], allowZero: boolean): Shape {
  const out: Dim[] = target.map((t, i) => (t === 0 && !allowZero ? (input[i] ?? '?') : t));
  const inferred = out.indexOf(-1);
  if (inferred < 0) return out;
  const inSymbols = input.filter((d) => typeof d !== 'number');
  const outSymbols = out.filter((d) => typeof d !== 'number');
  if (inSymbols.includes('?') || outSymbols.includes('?')) {
    out[inferred] = '?';
    return out;
  }
  const inProduct = (input.filter((d) => typeof d === 'number') as number[]).reduce((a, b) => a * b, 1);
  const outProduct = (out.filter((d, i) => typeof d === 'number' && i !== inferred) as number[]).reduce(
    (a, b) => a * b,
    1,
  );
  const remaining = [...inSymbols];
  for (const s of outSymbols) {
    const at = remaining.indexOf(s);
    if (at >= 0) remaining.splice(at, 1);
  }
  const ratio = inProduct / outProduct;
  if (remaining.length === 0 && Number.isInteger(ratio)) out[inferred] = ratio;
  else if (remaining.length === 1 && ratio === 1) out[inferred] = remaining[0] as Dim;
  else out[inferred] = '?';
  return out;
}
