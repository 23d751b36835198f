/**
 * CSV (`path,label[,split]` with a header) and JSONL (`{"path": ..., "label": ..., "split": ...}` per line)
 * manifests. Paths are relative to the manifest's folder (absolute paths are kept). Rows keep the manifest's order:
 * it is the user's, and predictions follow it. Files are not opened here: a listed file that is missing or not an
 * image becomes one failure line in extract, like any other unreadable image.
 */
import * as fs from 'fs';
import * as path from 'path';
import { UsageError } from '../util/errors';
import { CsvSyntaxError, parseCsv } from './csv';
import { normalizeSplit, SPLIT_NAMES_TEXT, toPosix } from './names';
import type { DatasetItem, ScanProblem, Split } from './types';

export interface ManifestRows {
  items: DatasetItem[];
  problems: ScanProblem[];
  /** Harmless oddities (a row listed twice): reported, never counted as failures. */
  notes: ScanProblem[];
}

const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\//i;

/** Why a row's path can never name a local file, or undefined when it may. */
function unusablePath(p: string): string | undefined {
  if (URL_LIKE.test(p.trim())) return 'URLs are not supported in manifests; download the image and list its local path';
  if (p.includes('\0')) return 'the path contains a NUL byte, which no file name can hold';
  return undefined;
}

interface RawRow {
  line: number;
  path: unknown;
  label: unknown;
  split: unknown;
  hasLabelColumn: boolean;
}

export function isManifestFile(file: string): 'csv' | 'jsonl' | undefined {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  return undefined;
}

function csvRows(text: string, file: string): RawRow[] {
  let records;
  try {
    records = parseCsv(text);
  } catch (e) {
    if (e instanceof CsvSyntaxError) throw new UsageError(`Line ${e.line} of ${file} is not valid CSV: ${e.message}.`);
    throw e;
  }
  const header = records.shift();
  if (!header)
    throw new UsageError(
      `The manifest ${file} is empty; expected a header line path,label[,split] and one row per image.`,
    );
  const names = header.fields.map((f) => f.trim().toLowerCase());
  const col = (name: string): number => names.indexOf(name);
  const pathCol = col('path');
  const labelCol = col('label');
  const splitCol = col('split');
  if (pathCol < 0) {
    throw new UsageError(
      `Expected the header of ${file} to name a path column (path,label[,split]) but received ${JSON.stringify(header.fields.join(','))}.`,
    );
  }
  return records.map((r) => {
    if (r.fields.length > header.fields.length) {
      throw new UsageError(
        `Line ${r.line} of ${file} has ${r.fields.length} fields but the header ${JSON.stringify(header.fields.join(','))} has ${header.fields.length}; quote a path or label that contains a comma ("a,b.jpg").`,
      );
    }
    if (r.fields.length <= pathCol || (labelCol >= 0 && r.fields.length <= labelCol)) {
      const missing = r.fields.length <= pathCol ? 'path' : 'label';
      throw new UsageError(
        `Line ${r.line} of ${file} has no ${missing} column; every row needs ${header.fields.join(',')}.`,
      );
    }
    return {
      line: r.line,
      path: r.fields[pathCol],
      label: labelCol >= 0 ? r.fields[labelCol] : undefined,
      split: splitCol >= 0 ? r.fields[splitCol] : undefined,
      hasLabelColumn: labelCol >= 0,
    };
  });
}

function jsonlRows(text: string, file: string): RawRow[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const rows: RawRow[] = [];
  const lines = text.split(/\r?\n/);
  let labelled: boolean | undefined;
  lines.forEach((lineText, i) => {
    if (lineText.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(lineText);
    } catch {
      throw new UsageError(
        `Line ${i + 1} of ${file} is not valid JSON; expected one object like {"path": "cat/1.jpg", "label": "cat"} per line.`,
      );
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new UsageError(`Line ${i + 1} of ${file} is not a JSON object; expected {"path": ..., "label": ...}.`);
    }
    const obj = value as Record<string, unknown>;
    const hasLabel = obj.label !== undefined && obj.label !== null;
    // The first row decides whether this manifest is labelled; mixing both is almost always a mistake.
    labelled ??= hasLabel;
    if (hasLabel && !labelled)
      throw new UsageError(
        `Line ${i + 1} of ${file} has a label but the first row has none; label every row (a labelled manifest) or none.`,
      );
    rows.push({ line: i + 1, path: obj.path, label: obj.label, split: obj.split, hasLabelColumn: labelled });
  });
  return rows;
}

function checkedRow(row: RawRow, file: string, root: string): DatasetItem {
  if (typeof row.path !== 'string' || row.path.trim() === '') {
    throw new UsageError(
      `Line ${row.line} of ${file} has no path; every row needs the image's path relative to the manifest.`,
    );
  }
  let label: string | undefined;
  if (row.hasLabelColumn) {
    const ok = (typeof row.label === 'string' && row.label.trim() !== '') || typeof row.label === 'number';
    if (!ok)
      throw new UsageError(`Line ${row.line} of ${file} has no label; every row of a labelled manifest needs one.`);
    label = String(row.label).trim();
  }
  let split: Split | undefined;
  if (row.split !== undefined && row.split !== null && row.split !== '') {
    split = typeof row.split === 'string' ? normalizeSplit(row.split) : undefined;
    if (!split) {
      throw new UsageError(
        `Line ${row.line} of ${file} has split ${JSON.stringify(row.split)}; expected ${SPLIT_NAMES_TEXT}.`,
      );
    }
  }
  const abs = path.resolve(root, row.path);
  const item: DatasetItem = { path: abs, relPath: toPosix(path.relative(root, abs)) };
  if (label !== undefined) item.label = label;
  if (split !== undefined) item.split = split;
  return item;
}

export async function readManifest(file: string, format: 'csv' | 'jsonl'): Promise<ManifestRows> {
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch (e) {
    throw new UsageError(`Cannot read the manifest ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'}).`);
  }
  const root = path.dirname(file);
  const raw = format === 'csv' ? csvRows(text, file) : jsonlRows(text, file);
  const items: DatasetItem[] = [];
  const problems: ScanProblem[] = [];
  const notes: ScanProblem[] = [];
  const seen = new Set<string>();
  for (const row of raw) {
    const unusable = typeof row.path === 'string' ? unusablePath(row.path) : undefined;
    if (unusable) {
      // Kept as written: path.resolve would glue a URL to the manifest's folder ("/data/https:/host/x.jpg").
      problems.push({ path: (row.path as string).trim(), reason: `${unusable} (line ${row.line})` });
      continue;
    }
    const item = checkedRow(row, file, root);
    if (seen.has(item.path)) {
      notes.push({
        path: item.path,
        reason: `listed again on line ${row.line} of ${path.basename(file)}; the first row is kept`,
      });
      continue;
    }
    seen.add(item.path);
    items.push(item);
  }
  return { items, problems, notes };
}
