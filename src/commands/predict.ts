/** `convfeat predict`: score images with a classifier, streaming CSV or JSONL rows. */
import * as fs from 'fs';
import * as path from 'path';
import type { Argv, CommandModule } from 'yargs';
import { scanDataset, type LayoutOption } from '../dataset';
import { loadClassifier } from '../linear';
import { printablePath } from '../dataset/names';
import { csvRow } from '../util/csv';
import { predictDataset, type Prediction } from '../deploy/predict';
import { commitTempFile, fsyncFileSync, removeDeadTemps, tempSibling, writeAllSync } from '../util/atomic';
import { ensureParentDir } from '../util/dirs';
import { translateFsError } from '../util/fsErrors';
import { ConvfeatError, UsageError } from '../util/errors';
import { integerInRange, nonEmptyString } from '../util/validate';
import { defaultPreprocessThreads } from '../preprocess';
import { createProgress } from './progress';
import { handler, logger, printJson, setInterruptNote } from './run';
import { PRECISION_OPTION } from './backboneOptions';
import { parsePrecision } from '../backbone/quantize/variant';

interface PredictArgs {
  classifier: string;
  data: string;
  out: string;
  cache?: string;
  model?: string;
  layer?: string;
  preprocess?: string;
  precision?: string;
  layout: LayoutOption;
  'top-k': number;
  format?: 'csv' | 'jsonl';
  device: string;
  threads?: number;
  'batch-size': number;
  workers?: number;
  json?: boolean;
  quiet?: boolean;
  'max-file-size'?: number;
}

/** Version of the predict CSV columns and JSONL fields (docs/formats.md); every row carries it. */
export const PREDICTIONS_FORMAT_VERSION = 1;

function formatRow(p: Prediction, format: 'csv' | 'jsonl', topK: number): string {
  if (format === 'jsonl') return `${JSON.stringify({ ...p, formatVersion: PREDICTIONS_FORMAT_VERSION })}\n`;
  const cells = [p.path, p.label ?? ''];
  for (let k = 0; k < topK; k++) cells.push(p.top[k]?.label ?? '', p.top[k] ? p.top[k]!.score.toFixed(6) : '');
  cells.push(String(PREDICTIONS_FORMAT_VERSION));
  return csvRow(cells);
}

function csvHeader(topK: number): string {
  const cells = ['path', 'label'];
  for (let k = 1; k <= topK; k++) cells.push(`pred${k}`, `score${k}`);
  cells.push('format_version');
  return csvRow(cells);
}

export const predictCommand: CommandModule<object, PredictArgs> = {
  command: 'predict',
  describe: 'Score a folder or manifest with a classifier; writes CSV or JSONL rows as it goes',
  builder: (y: Argv) =>
    y
      .option('classifier', { type: 'string', demandOption: true, describe: 'Classifier file written by fit-linear' })
      .option('data', { type: 'string', demandOption: true, describe: 'Folder of images, ImageFolder or manifest' })
      .option('out', { type: 'string', demandOption: true, describe: 'preds.csv, preds.jsonl, or - for stdout' })
      .option('cache', {
        type: 'string',
        describe: 'Extract through this cache (reuses embeddings; default: a temporary one)',
      })
      .option('model', {
        type: 'string',
        describe: 'The backbone .onnx file, when the classifier was trained on your own model',
      })
      .option('layer', { type: 'string' })
      .option('preprocess', { type: 'string' })
      .option('precision', PRECISION_OPTION)
      .option('layout', {
        choices: ['auto', 'imagefolder', 'imagefolder-splits', 'unlabelled'] as const,
        default: 'auto' as LayoutOption,
      })
      .option('top-k', { type: 'number', default: 1, describe: 'Labels and scores per image' })
      .option('format', {
        choices: ['csv', 'jsonl'] as const,
        describe: 'Default: from the --out extension (csv for -)',
      })
      .option('device', { type: 'string', default: 'auto' })
      .option('threads', { type: 'number' })
      .option('batch-size', { type: 'number', default: 8 })
      .option('workers', { type: 'number' })
      .option('json', { type: 'boolean', describe: 'Print a JSON summary (when --out is a file)' })
      .option('max-file-size', {
        type: 'number',
        describe: 'Refuse files over this many MB before reading them (default 256)',
      })
      .option('quiet', { type: 'boolean' }) as unknown as Argv<PredictArgs>,
  handler: handler(async (args: PredictArgs) => {
    const log = logger(args);
    setInterruptNote(
      `no predictions were written and the previous ${args.out} is untouched${args.cache !== undefined ? `; embeddings stored in ${args.cache} are kept` : ''}; rerun the command`,
    );
    nonEmptyString('--out', args.out);
    const clf = loadClassifier(args.classifier);
    const topK = integerInRange('--top-k', args['top-k'], 1, clf.classes.length);
    const toStdout = args.out === '-';
    const format = args.format ?? (/\.jsonl?$/i.test(args.out) ? 'jsonl' : 'csv');
    const dataset = await scanDataset(args.data, { layout: args.layout });
    for (const note of dataset.notes ?? []) log(`note: ${printablePath(note.path)}: ${note.reason}`);
    // Rows stream into a temporary file renamed at the end: a failed run never replaces an earlier output.
    const target = toStdout ? undefined : path.resolve(args.out);
    if (target && fs.existsSync(target) && fs.statSync(target).isDirectory()) {
      throw new UsageError(
        `--out ${args.out} is a directory; give a file name such as ${path.join(args.out, 'preds.csv')}.`,
      );
    }
    const tmp = target ? tempSibling(target) : undefined;
    if (target) {
      ensureParentDir(target, `--out ${args.out}`);
      removeDeadTemps(target); // what a killed earlier run left
    }
    let fd = 1;
    if (tmp) {
      try {
        fd = fs.openSync(tmp, 'w');
      } catch (e) {
        throw translateFsError(e, target) ?? e;
      }
    }
    const write = (text: string): void => {
      if (fd === 1) process.stdout.write(text);
      else writeAllSync(fd, text, target!);
    };
    const progress = createProgress({ total: dataset.items.length, label: 'predict', quiet: args.quiet || toStdout });
    let ok = false;
    try {
      if (format === 'csv') write(csvHeader(topK));
      const summary = await predictDataset(clf, dataset, {
        ...(args.model !== undefined ? { model: args.model } : {}),
        ...(args.layer !== undefined ? { layer: args.layer } : {}),
        ...(args.preprocess !== undefined ? { preprocess: args.preprocess } : {}),
        ...(args.precision !== undefined ? { precision: parsePrecision(args.precision) } : {}),
        ...(args.cache !== undefined ? { cacheDir: args.cache } : {}),
        device: args.device,
        ...(args.threads !== undefined ? { threads: integerInRange('--threads', args.threads, 1, 1024) } : {}),
        batchSize: integerInRange('--batch-size', args['batch-size'], 1, 1024),
        workers:
          args.workers === undefined ? defaultPreprocessThreads() : integerInRange('--workers', args.workers, 0, 64),
        topK,
        ...(args['max-file-size'] !== undefined ? { maxFileMB: args['max-file-size'] } : {}),
        onPrediction: (p) => write(formatRow(p, format, topK)),
        onFailure: (f) => log(`skipped ${printablePath(f.path)}: ${f.reason}`),
        onProgress: (done) => progress.tick(done),
        log,
      });
      progress.finish();
      if (summary.predicted === 0) {
        throw new ConvfeatError(
          `No image could be scored (${summary.failed} failed${args.quiet ? '; rerun without --quiet to see why' : '; see the skipped lines above'}).`,
        );
      }
      if (fd !== 1) fsyncFileSync(fd, target!);
      ok = true;
      const result = {
        out: args.out,
        format,
        predicted: summary.predicted,
        failed: summary.failed,
        fromCache: summary.fromCache,
        extracted: summary.extracted,
        seconds: summary.seconds,
        provider: summary.provider,
        model: summary.model,
      };
      if (args.json && !toStdout) printJson(result);
      else
        log(
          `${summary.predicted} images scored, ${summary.failed} failed, ${summary.seconds.toFixed(1)} s on ${summary.provider}${target ? `; wrote ${args.out}` : ''}`,
        );
    } finally {
      if (fd !== 1) fs.closeSync(fd);
      if (tmp && target) {
        try {
          if (ok) commitTempFile(tmp, target);
        } catch (e) {
          throw (
            translateFsError(e, target) ??
            new ConvfeatError(`Cannot write ${args.out} (${(e as Error).message}); choose a writable file path.`)
          );
        } finally {
          fs.rmSync(tmp, { force: true });
        }
      }
    }
  }),
};
