/** `convfeat predict`: score images with a classifier, streaming CSV or JSONL rows. */
import type { Argv, CommandModule } from 'yargs';
import { scanDataset, type LayoutOption } from '../dataset';
import { loadClassifier } from '../linear';
import { printablePath } from '../dataset/names';
import { predictDataset } from '../deploy/predict';
import { openPredictionWriter } from '../deploy/writers';
import { param } from '../util/params';
import { ConvfeatError } from '../util/errors';
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
    nonEmptyString(param('out'), args.out);
    const clf = loadClassifier(args.classifier);
    const topK = integerInRange(param('topK'), args['top-k'], 1, clf.classes.length);
    const toStdout = args.out === '-';
    const dataset = await scanDataset(args.data, { layout: args.layout });
    for (const note of dataset.notes ?? []) log(`note: ${printablePath(note.path)}: ${note.reason}`);
    // Rows stream into a temporary file renamed at the end: a failed run never replaces an earlier output.
    const writer = openPredictionWriter(args.out, {
      topK,
      ...(args.format !== undefined ? { format: args.format } : {}),
    });
    const progress = createProgress({ total: dataset.items.length, label: 'predict', quiet: args.quiet || toStdout });
    try {
      const summary = await predictDataset(clf, dataset, {
        ...(args.model !== undefined ? { model: args.model } : {}),
        ...(args.layer !== undefined ? { layer: args.layer } : {}),
        ...(args.preprocess !== undefined ? { preprocess: args.preprocess } : {}),
        ...(args.precision !== undefined ? { precision: parsePrecision(args.precision) } : {}),
        ...(args.cache !== undefined ? { cacheDir: args.cache } : {}),
        device: args.device,
        ...(args.threads !== undefined ? { threads: integerInRange(param('threads'), args.threads, 1, 1024) } : {}),
        batchSize: integerInRange(param('batchSize'), args['batch-size'], 1, 1024),
        workers:
          args.workers === undefined
            ? defaultPreprocessThreads()
            : integerInRange(param('workers'), args.workers, 0, 64),
        topK,
        ...(args['max-file-size'] !== undefined ? { maxFileMB: args['max-file-size'] } : {}),
        onPrediction: (p) => writer.write(p),
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
      writer.commit();
      const result = {
        out: args.out,
        format: writer.format,
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
          `${summary.predicted} images scored, ${summary.failed} failed, ${summary.seconds.toFixed(1)} s on ${summary.provider}${writer.file ? `; wrote ${args.out}` : ''}`,
        );
    } finally {
      writer.abort();
    }
  }),
};
