/**
 * `convfeat cache export`: one split as plain files for NumPy users:
 *   X.npy        float32 [N, D]
 *   y.npy        int64 [N] class ids (NumPy's default integer, what scikit-learn returns), -1 = unlabelled
 *   classes.json class names, index = class id
 *   paths.txt    one image path per line, row order of X
 * Each file is written atomically.
 */
import * as path from 'path';
import { writeFileAtomicSync } from '../util/atomic';
import { ConvfeatError } from '../util/errors';
import { writeNpySync } from '../util/npy';
import { nonEmptyString } from '../util/validate';
import { loadSplit } from './load';

export interface ExportOptions {
  out: string;
  split?: string;
}

export interface ExportResult {
  rows: number;
  dim: number;
  classes: number;
  files: string[];
}

export function exportCache(dir: string, opts: ExportOptions): ExportResult {
  nonEmptyString('--cache', dir);
  nonEmptyString('--out', opts?.out);
  const data = loadSplit(dir, opts.split);
  const bad = data.paths.find((p) => /[\r\n]/.test(p));
  if (bad !== undefined) {
    throw new ConvfeatError(
      `The image path ${JSON.stringify(bad)} contains a line break, which paths.txt cannot hold; rename the file and extract again.`,
    );
  }
  const out = path.resolve(opts.out);
  const n = data.y.length;
  const y = new BigInt64Array(n);
  for (let i = 0; i < n; i++) y[i] = BigInt(data.y[i]!);
  const files = ['X.npy', 'y.npy', 'classes.json', 'paths.txt'].map((f) => path.join(out, f));
  writeNpySync(files[0]!, { dtype: '<f4', shape: [n, data.dim], data: data.X });
  writeNpySync(files[1]!, { dtype: '<i8', shape: [n], data: y });
  writeFileAtomicSync(files[2]!, JSON.stringify(data.classes, null, 2) + '\n');
  writeFileAtomicSync(files[3]!, data.paths.join('\n') + '\n');
  return { rows: n, dim: data.dim, classes: data.classes.length, files };
}
