/**
 * NumPy .npy (format 1.0) reader and writer for float32 / int32 / int64 / uint8 arrays, so every array convfeat
 * writes opens with numpy.load. Little-endian, C order.
 */
import * as fs from 'fs';
import { ConvfeatError } from './errors';
import { writeFileAtomicSync } from './atomic';

export type NpyArray =
  | { dtype: '<f4'; shape: number[]; data: Float32Array }
  | { dtype: '<i4'; shape: number[]; data: Int32Array }
  | { dtype: '<i8'; shape: number[]; data: BigInt64Array }
  | { dtype: '|u1'; shape: number[]; data: Uint8Array };

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);

export function npyHeader(dtype: NpyArray['dtype'], shape: readonly number[]): Buffer {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${dtype}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Total header length (magic 6 + version 2 + len 2 + header + newline) must be a multiple of 64.
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const out = Buffer.alloc(10 + header.length);
  MAGIC.copy(out, 0);
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  return out;
}

export function encodeNpy(array: NpyArray): Buffer {
  const expected = array.shape.reduce((a, b) => a * b, 1);
  if (array.data.length !== expected) {
    throw new Error(`npy: data length ${array.data.length} does not match shape [${array.shape.join(', ')}]`);
  }
  const header = npyHeader(array.dtype, array.shape);
  const body = Buffer.from(array.data.buffer, array.data.byteOffset, array.data.byteLength);
  return Buffer.concat([header, body]);
}

export function writeNpySync(file: string, array: NpyArray): void {
  writeFileAtomicSync(file, encodeNpy(array));
}

export function decodeNpy(buf: Buffer, source = 'npy data'): NpyArray {
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) {
    throw new ConvfeatError(`${source} is not a NumPy .npy file (bad magic bytes).`);
  }
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.subarray(start, start + headerLen).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined)
    throw new ConvfeatError(`${source} has an unreadable .npy header.`);
  if (fortran === 'True')
    throw new ConvfeatError(`${source} is Fortran-ordered; convfeat reads C-ordered arrays only.`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  const bytes = buf.subarray(offset);
  const copy = (bytesPer: number): ArrayBuffer => {
    if (bytes.length < count * bytesPer) {
      throw new ConvfeatError(
        `${source} is truncated: expected ${count * bytesPer} data bytes, found ${bytes.length}.`,
      );
    }
    const ab = new ArrayBuffer(count * bytesPer);
    new Uint8Array(ab).set(bytes.subarray(0, count * bytesPer));
    return ab;
  };
  switch (descr) {
    case '<f4':
      return { dtype: '<f4', shape, data: new Float32Array(copy(4)) };
    case '<i4':
      return { dtype: '<i4', shape, data: new Int32Array(copy(4)) };
    case '<i8':
      return { dtype: '<i8', shape, data: new BigInt64Array(copy(8)) };
    case '|u1':
      return { dtype: '|u1', shape, data: new Uint8Array(copy(1)) };
    default:
      throw new ConvfeatError(`${source} has dtype ${descr}; convfeat reads <f4, <i4, <i8 and |u1.`);
  }
}

export function readNpySync(file: string): NpyArray {
  return decodeNpy(fs.readFileSync(file), file);
}
