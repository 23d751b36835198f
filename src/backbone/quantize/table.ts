/**
 * The activation-range table: the only input of quantisation besides the fp32 model, so a committed table makes the
 * int8 model a pure function of the fp32 bytes (every user gets the same int8 bytes and fingerprint). Written by
 * `convfeat models quantize`; the bundled resnet50's table is onnx/resnet50.int8.json.
 */
import * as fs from 'fs';
import { writeFileAtomicSync } from '../../util/atomic';
import { ConvfeatError } from '../../util/errors';
import type { RangeTable } from './qdq';

export const RANGE_TABLE_FORMAT = 'convfeat-int8-ranges';
export const RANGE_TABLE_VERSION = 1;

export interface RangeTableFile {
  format: typeof RANGE_TABLE_FORMAT;
  version: number;
  /** The model the ranges were measured on (manifest name or file name). */
  model: string;
  /** Fingerprint of the fp32 cut graph the ranges belong to; another graph with the same tensor names still works. */
  fp32Fingerprint: string;
  layer: string;
  calibration: {
    /** How the calibration images were chosen, in words (no machine paths). */
    images: string;
    count: number;
    method: 'minmax' | 'percentile';
    percentile?: number;
  };
  weights: string;
  activations: string;
  ranges: RangeTable;
}

export function readRangeTable(file: string): RangeTableFile {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConvfeatError(
      code === 'ENOENT'
        ? `The int8 range table ${file} does not exist; make it with \`convfeat models quantize MODEL --calibrate DATA\`.`
        : `Cannot read the int8 range table ${file} (${code ?? (e as Error).message}); make it again with \`convfeat models quantize\`.`,
    );
  }
  const t = raw as Partial<RangeTableFile>;
  const bad = (what: string): never => {
    throw new ConvfeatError(
      `${file} is not a usable int8 range table: ${what}; make it again with \`convfeat models quantize\`.`,
    );
  };
  if (!t || t.format !== RANGE_TABLE_FORMAT) bad(`its "format" is not "${RANGE_TABLE_FORMAT}"`);
  if (typeof t.version !== 'number' || t.version > RANGE_TABLE_VERSION) bad('it was written by a newer convfeat');
  if (typeof t.model !== 'string' || typeof t.fp32Fingerprint !== 'string') bad('it lacks model or fp32Fingerprint');
  if (!t.ranges || typeof t.ranges !== 'object' || Array.isArray(t.ranges)) bad('it has no "ranges" object');
  for (const [name, r] of Object.entries(t.ranges!)) {
    if (
      !Array.isArray(r) ||
      r.length !== 2 ||
      !r.every((v) => typeof v === 'number' && Number.isFinite(v)) ||
      r[0] > r[1]
    ) {
      bad(`the range of ${name} is not [min, max] with min ≤ max`);
    }
  }
  return t as RangeTableFile;
}

export function writeRangeTable(file: string, table: RangeTableFile): void {
  // One range per line keeps the committed file reviewable and its diffs small.
  const head = JSON.stringify({ ...table, ranges: undefined }, null, 2).replace(/\n}$/, '');
  const rows = Object.entries(table.ranges).map(([k, [lo, hi]]) => `    ${JSON.stringify(k)}: [${lo}, ${hi}]`);
  writeFileAtomicSync(file, `${head},\n  "ranges": {\n${rows.join(',\n')}\n  }\n}\n`);
}
