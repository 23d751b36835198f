/**
 * `convfeat cache export`: one split as plain files for NumPy users:
 *   X.npy        float32 [N, D]
 *   y.npy        int64 [N] class ids (NumPy's default integer, what scikit-learn returns), -1 = unlabelled
 *   classes.json class names, index = class id
 *   paths.txt    one image path per line, row order of X
 *
 * The four files are one set: they are written into a fresh sibling folder, which is then swapped in for --out
 * (two renames). A kill at any moment leaves --out holding a complete earlier set, a complete new set, or (between
 * the two renames) no folder at all, never X.npy of one export beside y.npy of another. Leftovers of a killed
 * export are removed by the next one (only those whose process is gone).
 */
import * as fs from 'fs';
import * as path from 'path';
import { ensureParentDir } from '../util/dirs';
import { translateFsError } from '../util/fsErrors';
import { randomBytes } from 'crypto';
import { ConvfeatError } from '../util/errors';
import { encodeNpy } from '../util/npy';
import { nonEmptyString } from '../util/validate';
import { crashPoint } from './crash';
import { fsyncDir, writeDurable } from './durable';
import { loadSplit } from './load';
import { param } from '../util/params';

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

export const EXPORT_FILES = ['X.npy', 'y.npy', 'classes.json', 'paths.txt'] as const;

/** Sibling folders of a run: `.OUT.export-PID-RAND` (being written) and `.OUT.old-PID-RAND` (the set it replaced). */
function stagingName(out: string, kind: 'export' | 'old'): string {
  return path.join(
    path.dirname(out),
    `.${path.basename(out)}.${kind}-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
}

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Removes staging folders of killed exports to the same --out; a live export's folders are left alone. */
function removeLeftovers(out: string): void {
  const prefix = `.${path.basename(out)}.`;
  let names: string[];
  try {
    names = fs.readdirSync(path.dirname(out));
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(?:export|old)-(\d+)-[0-9a-f]{8}$/.exec(name.slice(prefix.length));
    if (m && processGone(Number(m[1]))) fs.rmSync(path.join(path.dirname(out), name), { recursive: true, force: true });
  }
}

/** --out must be a folder that is new, empty or an earlier export: the swap replaces the whole folder. */
function checkOut(out: string, shown: string): boolean {
  const stat = fs.statSync(out, { throwIfNoEntry: false });
  if (!stat) return false;
  if (!stat.isDirectory())
    throw new ConvfeatError(
      `${param('out')} ${shown} is a file, not a folder; choose a folder path for the exported arrays.`,
    );
  const foreign = fs.readdirSync(out).filter((n) => !(EXPORT_FILES as readonly string[]).includes(n));
  if (foreign.length > 0)
    throw new ConvfeatError(
      `${param('out')} ${shown} holds other files than an export (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''}); ` +
        'cache export replaces the whole folder so that its four files always belong together: choose a new or empty folder.',
    );
  return true;
}

export function exportCache(dir: string, opts: ExportOptions): ExportResult {
  nonEmptyString(param('cacheDir'), dir);
  nonEmptyString(param('out'), opts?.out);
  const out = path.resolve(opts.out);
  checkOut(out, opts.out);
  const data = loadSplit(dir, opts.split);
  const bad = data.paths.find((p) => /[\r\n]/.test(p));
  if (bad !== undefined) {
    throw new ConvfeatError(
      `The image path ${JSON.stringify(bad)} contains a line break, which paths.txt cannot hold; rename the file and extract again.`,
    );
  }
  const n = data.y.length;
  const y = new BigInt64Array(n);
  for (let i = 0; i < n; i++) y[i] = BigInt(data.y[i]!);
  const contents: Record<(typeof EXPORT_FILES)[number], Uint8Array> = {
    'X.npy': encodeNpy({ dtype: '<f4', shape: [n, data.dim], data: data.X }),
    'y.npy': encodeNpy({ dtype: '<i8', shape: [n], data: y }),
    'classes.json': Buffer.from(JSON.stringify(data.classes, null, 2) + '\n', 'utf8'),
    'paths.txt': Buffer.from(data.paths.join('\n') + '\n', 'utf8'),
  };

  ensureParentDir(out, `${param('out')} ${opts.out}`);
  removeLeftovers(out);
  const stage = stagingName(out, 'export');
  try {
    fs.mkdirSync(stage);
    for (const name of EXPORT_FILES) {
      writeDurable(path.join(stage, name), [contents[name]], 'export-file', 'the export file', path.join(out, name));
    }
    crashPoint('export-staged');
    const existed = checkOut(out, opts.out); // again: it may have changed while the arrays were written
    const aside = stagingName(out, 'old');
    if (existed) {
      fs.renameSync(out, aside);
      crashPoint('export-old-moved-aside');
    }
    fs.renameSync(stage, out);
    crashPoint('export-swapped');
    fsyncDir(path.dirname(out));
    fs.rmSync(aside, { recursive: true, force: true });
  } catch (e) {
    fs.rmSync(stage, { recursive: true, force: true });
    if (e instanceof ConvfeatError) throw e;
    const translated = translateFsError(e, out);
    if (translated) throw translated;
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new ConvfeatError(
      `Cannot write the export to ${opts.out} (${code}); check that its parent folder is writable and has space, then run again.`,
    );
  }
  return { rows: n, dim: data.dim, classes: data.classes.length, files: EXPORT_FILES.map((f) => path.join(out, f)) };
}
