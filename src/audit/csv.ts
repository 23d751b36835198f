/**
 * The audit's editable CSV (issues.csv) and the reader behind `--exclude FILE` in fit-linear and evaluate. One row
 * per flagged image: whether to exclude it, why it was flagged, where it is, its given and suggested label, a
 * score and the image it duplicates. A user flips `exclude` to `no` for rows to keep (or deletes them) and passes
 * the file back; any CSV with a `relPath` or `path` column works, and without an `exclude` column every row counts.
 */
import * as fs from 'fs';
import { parseCsv, CsvSyntaxError } from '../dataset/csv';
import { UsageError } from '../util/errors';
import type { AuditResult } from './audit';
import { param } from '../util/params';

export const ISSUES_CSV_HEADER = [
  'exclude',
  'issue',
  'split',
  'relPath',
  'label',
  'suggested_label',
  'score',
  'partner',
  'path',
];

function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/**
 * Rows: the later-split copy of every duplicate pair (leakage first), then label issues, then outliers. An image
 * flagged twice appears twice; the reader takes the union.
 */
export function issuesCsv(result: AuditResult): string {
  const lines = [ISSUES_CSV_HEADER.join(',')];
  const row = (issue: string, r: number, extra: { suggested?: string; score: number; partner?: number }): void => {
    const x = result.rows[r]!;
    lines.push(
      [
        'yes',
        issue,
        x.split ?? '',
        x.relPath,
        x.label ?? '',
        extra.suggested ?? '',
        extra.score.toFixed(4),
        extra.partner !== undefined ? result.rows[extra.partner]!.relPath : '',
        x.path,
      ]
        .map(csvField)
        .join(','),
    );
  };
  for (const p of result.duplicates)
    row(p.crossSplit ? `leak-${p.kind}-duplicate` : `${p.kind}-duplicate`, p.b, { score: p.score, partner: p.a });
  for (const i of result.labelIssues)
    row('label-error', i.row, { suggested: result.classes[i.suggested]!, score: i.selfConfidence });
  for (const o of result.outliers) row('outlier', o.row, { score: o.score });
  return lines.join('\n') + '\n';
}

const NO = new Set(['no', 'n', 'false', '0', 'keep', '']);

/** relPaths and paths to leave out, from a CSV with a relPath or path column (and an optional exclude column). */
export function readExcludeFile(file: string): Set<string> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(
      `Cannot read ${param('excludeFile')} ${file}; give the issues.csv written by convfeat audit --report.`,
    );
  }
  let records;
  try {
    records = parseCsv(text);
  } catch (e) {
    const line = e instanceof CsvSyntaxError ? ` at line ${e.line}` : '';
    throw new UsageError(
      `${param('excludeFile')} ${file} is not valid CSV${line}: ${e instanceof Error ? e.message : String(e)}.`,
    );
  }
  if (records.length === 0)
    throw new UsageError(`${param('excludeFile')} ${file} is empty; expected a header with relPath or path.`);
  const header = records[0]!.fields.map((h) => h.trim());
  const relCol = header.indexOf('relPath');
  const pathCol = header.indexOf('path');
  const exCol = header.indexOf('exclude');
  if (relCol < 0 && pathCol < 0) {
    throw new UsageError(
      `${param('excludeFile')} ${file} has no relPath or path column (header: ${header.join(', ')}); expected the issues.csv of convfeat audit.`,
    );
  }
  const out = new Set<string>();
  for (const r of records.slice(1)) {
    if (exCol >= 0 && NO.has((r.fields[exCol] ?? '').trim().toLowerCase())) continue;
    const rel = relCol >= 0 ? (r.fields[relCol] ?? '').trim() : '';
    const abs = pathCol >= 0 ? (r.fields[pathCol] ?? '').trim() : '';
    if (rel) out.add(rel);
    if (abs) out.add(abs);
  }
  return out;
}
