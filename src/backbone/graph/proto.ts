// onnx-proto's declarations name protobufjs' global `Long` without referencing its types; kept in our .d.ts so a
// consumer's type check (skipLibCheck false, any TypeScript ≥ 5.0) finds it.
/// <reference types="long" preserve="true" />
/**
 * Thin typed layer over onnx-proto (protobufjs): read and write ONNX ModelProto files and build graphs node by node.
 * Used by the Keras converter, the head cutter, the fused export, and by tests that build tiny graphs.
 */
import * as fs from 'fs';
import { onnx } from 'onnx-proto';
import { ConvfeatError } from '../../util/errors';
import { writeFileAtomicSync } from '../../util/atomic';

export { onnx };

export const ElemType = onnx.TensorProto.DataType;
export const AttrType = onnx.AttributeProto.AttributeType;

/** The ONNX IR version written by convfeat; ORT 1.30 reads up to IR 11. onnx-proto 8 knows fields up to IR 8. */
export const IR_VERSION = 8;
export const DEFAULT_OPSET = 13;

export type AttrValue =
  number | string | number[] | string[] | onnx.ITensorProto | { float: number } | { floats: number[] };

export function attr(name: string, value: AttrValue): onnx.IAttributeProto {
  if (typeof value === 'number') {
    return Number.isInteger(value) ? { name, type: AttrType.INT, i: value } : { name, type: AttrType.FLOAT, f: value };
  }
  if (typeof value === 'string') return { name, type: AttrType.STRING, s: Buffer.from(value, 'utf8') };
  if (Array.isArray(value)) {
    if (value.length > 0 && typeof value[0] === 'string') {
      return { name, type: AttrType.STRINGS, strings: (value as string[]).map((s) => Buffer.from(s, 'utf8')) };
    }
    const nums = value as number[];
    return nums.every((v) => Number.isInteger(v))
      ? { name, type: AttrType.INTS, ints: nums }
      : { name, type: AttrType.FLOATS, floats: nums };
  }
  if ('float' in value) return { name, type: AttrType.FLOAT, f: value.float };
  if ('floats' in value) return { name, type: AttrType.FLOATS, floats: value.floats };
  return { name, type: AttrType.TENSOR, t: value };
}

export function node(
  opType: string,
  inputs: string[],
  outputs: string[],
  attrs: Record<string, AttrValue> = {},
  name?: string,
): onnx.INodeProto {
  return {
    opType,
    input: inputs,
    output: outputs,
    name: name ?? outputs[0],
    attribute: Object.entries(attrs).map(([k, v]) => attr(k, v)),
  };
}

export function floatTensor(
  name: string,
  dims: readonly number[],
  data: Float32Array | readonly number[],
): onnx.ITensorProto {
  const arr = data instanceof Float32Array ? data : Float32Array.from(data);
  return {
    name,
    dims: [...dims],
    dataType: ElemType.FLOAT,
    rawData: new Uint8Array(arr.buffer.slice(arr.byteOffset, arr.byteOffset + arr.byteLength)),
  };
}

export function int64Tensor(name: string, dims: readonly number[], data: readonly number[]): onnx.ITensorProto {
  const arr = BigInt64Array.from(data.map((v) => BigInt(v)));
  return { name, dims: [...dims], dataType: ElemType.INT64, rawData: new Uint8Array(arr.buffer) };
}

/** A dimension is a number (fixed) or a string (symbolic, e.g. 'batch'). */
export function valueInfo(
  name: string,
  dims: ReadonlyArray<number | string>,
  elemType: number = ElemType.FLOAT,
): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export interface GraphParts {
  name: string;
  nodes: onnx.INodeProto[];
  inputs: onnx.IValueInfoProto[];
  outputs: onnx.IValueInfoProto[];
  initializers: onnx.ITensorProto[];
  valueInfo?: onnx.IValueInfoProto[];
}

export function makeModel(
  graph: GraphParts,
  opts: { opset?: number; producer?: string; metadata?: Record<string, string>; docString?: string } = {},
): onnx.ModelProto {
  return onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: opts.producer ?? 'convfeat',
    opsetImport: [{ domain: '', version: opts.opset ?? DEFAULT_OPSET }],
    docString: opts.docString ?? '',
    metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: graph.name,
      node: graph.nodes,
      input: graph.inputs,
      output: graph.outputs,
      initializer: graph.initializers,
      valueInfo: graph.valueInfo ?? [],
    },
  });
}

export function encodeModel(model: onnx.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(model as onnx.ModelProto).finish();
}

export function saveModel(file: string, model: onnx.IModelProto): void {
  writeFileAtomicSync(file, encodeModel(model));
}

/** Decodes bytes as an ONNX model; anything else (truncated, not protobuf, no graph) is one clear sentence. */
export function decodeModel(bytes: Uint8Array, source: string): onnx.ModelProto {
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new ConvfeatError(
      `${source} is not a readable ONNX model (${(e as Error).message}); the file may be truncated or not ONNX — fetch it again or export it with torch.onnx.export.`,
    );
  }
  if (!model.graph || (model.graph.node ?? []).length === 0 || model.opsetImport.length === 0) {
    throw new ConvfeatError(
      `${source} is not an ONNX model: it has no graph or no opset; check that the file is a .onnx model.`,
    );
  }
  return model;
}

export function loadModel(file: string): onnx.ModelProto {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConvfeatError(
      code === 'ENOENT'
        ? `Model file ${file} does not exist; check the path or run \`convfeat models list\`.`
        : `Cannot read model file ${file} (${code ?? (e as Error).message}).`,
    );
  }
  return decodeModel(bytes, file);
}

/** Reads a tensor's float data whether stored as raw bytes or in floatData. */
export function tensorToFloat32(t: onnx.ITensorProto): Float32Array {
  if (t.rawData && t.rawData.length > 0) {
    const raw = t.rawData;
    const copy = new Uint8Array(raw.length);
    copy.set(raw);
    return new Float32Array(copy.buffer);
  }
  return Float32Array.from(t.floatData ?? []);
}

export function dimsOf(v: onnx.IValueInfoProto): Array<number | string> {
  const dims = v.type?.tensorType?.shape?.dim ?? [];
  return dims.map((d) =>
    d.dimParam ? d.dimParam : d.dimValue !== undefined && d.dimValue !== null ? Number(d.dimValue) : '?',
  );
}
