/**
 * The int8 variant of a prepared backbone: its fp32 cut graph quantised with a range table. Both inputs are fixed
 * bytes, so the int8 graph and its fingerprint are too; the result is kept in <store>/cut/ keyed by the fp32
 * fingerprint, the table's hash and the quantiser version, since quantising ResNet50 takes a few seconds.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomicSync } from '../../util/atomic';
import { UsageError } from '../../util/errors';
import { canonicalJson, sha256Hex } from '../../util/hash';
import { invalid } from '../../util/validate';
import { modelFingerprint } from '../graph/fingerprint';
import { decodeModel, encodeModel } from '../graph/proto';
import { quantizeModel, QUANTIZER_VERSION, type QuantizeReport } from './qdq';
import { readRangeTable } from './table';
import { param } from '../../util/params';

export type Precision = 'fp32' | 'int8';

const INT8_CACHE_MIN_BYTES = 2 * 1024 * 1024;
export const PRECISIONS: readonly Precision[] = ['fp32', 'int8'];

export function parsePrecision(value: unknown, name = param('precision')): Precision {
  if (value === 'fp32' || value === 'int8') return value;
  throw invalid(name, 'fp32 or int8', value);
}

/** `resnet50@int8` (how caches and classifiers name an int8 backbone) → model resnet50, precision int8. */
export function splitModelPrecision(model: string): { model: string; precision?: Precision } {
  const m = /^(.+)@(fp32|int8)$/.exec(model);
  return m ? { model: m[1]!, precision: m[2] as Precision } : { model };
}

/** The name caches and classifiers record: the precision is part of it for int8, so messages name the right model. */
export function modelNameWithPrecision(name: string, precision: Precision): string {
  return precision === 'int8' ? `${name}@int8` : name;
}

/** Where `convfeat models quantize` puts the range table of a user's model: beside it, `<name>.int8.json`. */
export function userRangeTablePath(modelFile: string): string {
  return modelFile.replace(/\.onnx$/i, '') + '.int8.json';
}

export interface Int8Summary {
  quantized: number;
  /** "Relu ×1, ReduceMean ×1"-style counts of the nodes that stayed fp32. */
  keptFp32: Record<string, number>;
  /** Counts of the value-preserving nodes (MaxPool, …) that run on the int8 values with their input's scale. */
  sharedScale: Record<string, number>;
  foldedBatchNorms: number;
  foldedPads: number;
}

export interface Int8Cut {
  fingerprint: string;
  cutBytes(): Uint8Array;
  summary: Int8Summary;
  tableFile: string;
}

export function summarize(report: QuantizeReport): Int8Summary {
  const count = (notes: ReadonlyArray<{ opType: string }>) => {
    const out: Record<string, number> = {};
    for (const k of notes) out[k.opType] = (out[k.opType] ?? 0) + 1;
    return out;
  };
  return {
    quantized: report.quantized.length,
    keptFp32: count(report.keptFp32),
    sharedScale: count(report.sharedScale),
    foldedBatchNorms: report.foldedBatchNorms,
    foldedPads: report.foldedPads,
  };
}

interface Int8Record extends Int8Summary {
  fingerprint: string;
  fp32Fingerprint: string;
}

/** Int8 cuts of the same fp32 graph made with an older table or quantiser: each is ~24 MB nobody will read again. */
function removeOutdatedInt8(keep: string, fp32Fingerprint: string): void {
  const dir = path.dirname(keep);
  const prefix = path.basename(keep).replace(/-int8-[0-9a-f]+$/, '-int8-');
  for (const name of fs.readdirSync(dir)) {
    const other = path.join(dir, name.replace(/\.json$/, ''));
    if (!name.startsWith(prefix) || !name.endsWith('.json') || other === keep) continue;
    try {
      const record = JSON.parse(fs.readFileSync(`${other}.json`, 'utf8')) as Int8Record;
      if (record.fp32Fingerprint !== fp32Fingerprint) continue;
      fs.rmSync(`${other}.json`, { force: true });
      fs.rmSync(`${other}.onnx`, { force: true });
    } catch {
      // unreadable record: leave it
    }
  }
}

export function int8Cut(opts: {
  name: string;
  fp32Fingerprint: string;
  fp32Bytes: () => Uint8Array;
  tableFile: string;
  storeDir: string;
  log?: (line: string) => void;
}): Int8Cut {
  if (!fs.existsSync(opts.tableFile)) {
    throw new UsageError(
      `${param('precision')} int8 needs the activation ranges of ${opts.name}, which ${opts.tableFile} would hold; make them with \`convfeat models quantize ${opts.name} --calibrate DATA\`.`,
    );
  }
  const tableBytes = fs.readFileSync(opts.tableFile);
  const key = sha256Hex(
    canonicalJson({ v: QUANTIZER_VERSION, fp32: opts.fp32Fingerprint, table: sha256Hex(tableBytes) }),
  ).slice(0, 16);
  const base = path.join(opts.storeDir, 'cut', `${opts.name.replace(/[^A-Za-z0-9._-]/g, '_')}-int8-${key}`);
  try {
    const record = JSON.parse(fs.readFileSync(`${base}.json`, 'utf8')) as Int8Record;
    if (typeof record.fingerprint === 'string' && fs.existsSync(`${base}.onnx`)) {
      let bytes: Uint8Array | undefined;
      return {
        fingerprint: record.fingerprint,
        cutBytes: () => (bytes ??= fs.readFileSync(`${base}.onnx`)),
        summary: {
          quantized: record.quantized,
          keptFp32: record.keptFp32,
          sharedScale: record.sharedScale ?? {},
          foldedBatchNorms: record.foldedBatchNorms,
          foldedPads: record.foldedPads ?? 0,
        },
        tableFile: opts.tableFile,
      };
    }
  } catch {
    // not quantised yet: below
  }
  const table = readRangeTable(opts.tableFile);
  if (table.fp32Fingerprint !== opts.fp32Fingerprint) {
    opts.log?.(
      `${opts.tableFile} was calibrated on fp32 graph ${table.fp32Fingerprint}, this one is ${opts.fp32Fingerprint}; tensors without a range stay fp32.`,
    );
  }
  opts.log?.(`Quantising ${opts.name} to int8 with the ranges in ${path.basename(opts.tableFile)}`);
  const { model, report } = quantizeModel(decodeModel(opts.fp32Bytes(), opts.name), { ranges: table.ranges });
  const bytes = encodeModel(model);
  const record: Int8Record = {
    fingerprint: modelFingerprint(bytes),
    fp32Fingerprint: opts.fp32Fingerprint,
    ...summarize(report),
  };
  try {
    // Like the fp32 cut: small models are quantised again each run (milliseconds) rather than stored.
    if (bytes.length < INT8_CACHE_MIN_BYTES) throw new Error('small model: not worth storing');
    fs.mkdirSync(path.dirname(base), { recursive: true });
    writeFileAtomicSync(`${base}.onnx`, bytes);
    writeFileAtomicSync(`${base}.json`, `${JSON.stringify(record)}\n`);
    removeOutdatedInt8(base, opts.fp32Fingerprint);
  } catch {
    // a small model, or a read-only store: quantise again next time
  }
  return {
    fingerprint: record.fingerprint,
    cutBytes: () => bytes,
    summary: summarize(report),
    tableFile: opts.tableFile,
  };
}
