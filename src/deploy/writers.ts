/**
 * Where predictions go: CSV or JSONL rows, to a file or to stdout ('-'). A file is written through util/lineFile, so
 * rows stream to an owner-named temporary sibling and replace the previous output only when the whole run succeeded;
 * a failed or interrupted run leaves the earlier file as it was. Stdout gets each row as it is scored (a pipe reader
 * sees them at once, and there is no earlier output to protect).
 */
import * as fs from 'fs';
import * as path from 'path';
import { csvRow } from '../util/csv';
import { removeDeadTemps } from '../util/atomic';
import { ensureParentDir } from '../util/dirs';
import { ConvfeatError, UsageError } from '../util/errors';
import { translateFsError } from '../util/fsErrors';
import { LineFile } from '../util/lineFile';
import { param } from '../util/params';
import { integerInRange, nonEmptyString, oneOf } from '../util/validate';
import type { Prediction } from './predict';

/** Version of the predict CSV columns and JSONL fields (docs/formats.md); every row carries it. */
export const PREDICTIONS_FORMAT_VERSION = 1;

export type PredictionFormat = 'csv' | 'jsonl';
export const PREDICTION_FORMATS: readonly PredictionFormat[] = ['csv', 'jsonl'];

/** The format asked for, else the one the output's extension names (.jsonl/.json → JSONL; CSV otherwise and for '-'). */
export function predictionFormatFor(out: string, format?: PredictionFormat): PredictionFormat {
  if (format !== undefined) return oneOf(param('format'), format, PREDICTION_FORMATS);
  return /\.jsonl?$/i.test(out) ? 'jsonl' : 'csv';
}

/** The CSV header: path, label, then predK/scoreK for K = 1..topK, then format_version. */
export function predictionsCsvHeader(topK: number): string {
  const cells = ['path', 'label'];
  for (let k = 1; k <= topK; k++) cells.push(`pred${k}`, `score${k}`);
  cells.push('format_version');
  return csvRow(cells);
}

/** One row: a CSV record (cells neutralised against spreadsheet formulas, scores to 6 places) or a JSON line. */
export function formatPrediction(p: Prediction, format: PredictionFormat, topK: number): string {
  if (format === 'jsonl') return `${JSON.stringify({ ...p, formatVersion: PREDICTIONS_FORMAT_VERSION })}\n`;
  const cells = [p.path, p.label ?? ''];
  for (let k = 0; k < topK; k++) cells.push(p.top[k]?.label ?? '', p.top[k] ? p.top[k]!.score.toFixed(6) : '');
  cells.push(String(PREDICTIONS_FORMAT_VERSION));
  return csvRow(cells);
}

export interface PredictionWriterOptions {
  /** Default: from `out`'s extension (predictionFormatFor). */
  format?: PredictionFormat;
  /** Labels and scores per CSV row (JSONL rows carry what the prediction holds). */
  topK: number;
}

export interface PredictionWriter {
  readonly format: PredictionFormat;
  /** The absolute file the rows go to; undefined for stdout. */
  readonly file?: string;
  write(p: Prediction): void;
  /** Puts the file in place (fsync, rename); for stdout, nothing to do. */
  commit(): void;
  /** Drops the rows written so far; the previous file stays. Safe after commit (does nothing then). */
  abort(): void;
}

/**
 * Opens the rows' destination: `-` is stdout, anything else a file replaced whole on commit. Refuses a folder, creates
 * missing parent folders, and removes temporaries a killed earlier run left beside the file. The CSV header is
 * written at once.
 */
export function openPredictionWriter(out: string, options: PredictionWriterOptions): PredictionWriter {
  nonEmptyString(param('out'), out);
  const topK = integerInRange(param('topK'), options.topK, 1, Number.MAX_SAFE_INTEGER);
  const format = predictionFormatFor(out, options.format);
  const row = (p: Prediction): string => formatPrediction(p, format, topK);
  const header = format === 'csv' ? predictionsCsvHeader(topK) : '';
  if (out === '-') {
    if (header) process.stdout.write(header);
    return { format, write: (p) => void process.stdout.write(row(p)), commit: () => {}, abort: () => {} };
  }
  const target = path.resolve(out);
  if (fs.existsSync(target) && fs.statSync(target).isDirectory()) {
    throw new UsageError(
      `${param('out')} ${out} is a directory; give a file name such as ${path.join(out, 'preds.csv')}.`,
    );
  }
  ensureParentDir(target, `${param('out')} ${out}`);
  removeDeadTemps(target); // what a killed earlier run left
  const file = new LineFile(target);
  let done = false;
  if (header) file.write(header);
  return {
    format,
    file: target,
    write: (p) => file.write(row(p)),
    commit: () => {
      if (done) return;
      try {
        file.commit();
      } catch (e) {
        throw (
          translateFsError(e, target) ??
          new ConvfeatError(`Cannot write ${out} (${(e as Error).message}); choose a writable file path.`)
        );
      }
      done = true;
    },
    abort: () => {
      if (done) return;
      file.abort();
      done = true;
    },
  };
}
