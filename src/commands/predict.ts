/** `convfeat predict`: score images with a classifier, streaming CSV or JSONL rows. */
import type { Argv, CommandModule } from 'yargs';
import { scanDataset } from '../dataset';
import { loadClassifier } from '../linear';
import { printablePath } from '../dataset/names';
import { predictDataset } from '../deploy/predict';
import { openPredictionWriter } from '../deploy/writers';
import { param } from '../util/params';
import { ConvfeatError } from '../util/errors';
import { integerInRange, nonEmptyString } from '../util/validate';
import { createProgress } from './progress';
import { handler, logger, printJson, setInterruptNote } from './run';
import {
  batchChoice,
  deviceChoice,
  fileSizeChoice,
  modelChoice,
  withBatchOptions,
  withDeviceOptions,
  withFileSizeOption,
  withLayoutOption,
  withModelOptions,
  type BatchArgs,
  type DeviceArgs,
  type FileSizeArgs,
  type LayoutArgs,
  type ModelArgs,
} from './options';

/** The model block's fields that are set (predict's model is optional: the classifier names its backbone). */
function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

interface PredictArgs extends ModelArgs, LayoutArgs, DeviceArgs, BatchArgs, FileSizeArgs {
  classifier: string;
  data: string;
  out: string;
  cache?: string;
  'top-k': number;
  format?: 'csv' | 'jsonl';
  json?: boolean;
  quiet?: boolean;
}

export const predictCommand: CommandModule<object, PredictArgs> = {
  command: 'predict',
  describe: 'Score a folder or manifest with a classifier; writes CSV or JSONL rows as it goes',
  builder: (y: Argv) => {
    const io = y
      .option('classifier', { type: 'string', demandOption: true, describe: 'Classifier file written by fit-linear' })
      .option('data', { type: 'string', demandOption: true, describe: 'Folder of images, ImageFolder or manifest' })
      .option('out', { type: 'string', demandOption: true, describe: 'preds.csv, preds.jsonl, or - for stdout' })
      .option('cache', {
        type: 'string',
        describe: 'Extract through this cache (reuses embeddings; default: a temporary one)',
      });
    const scoring = withLayoutOption(withModelOptions(io))
      .option('top-k', { type: 'number', default: 1, describe: 'Labels and scores per image' })
      .option('format', {
        choices: ['csv', 'jsonl'] as const,
        describe: 'Default: from the --out extension (csv for -)',
      });
    const work = withBatchOptions(withDeviceOptions(scoring), { batchSize: 8 }).option('json', {
      type: 'boolean',
      describe: 'Print a JSON summary (when --out is a file)',
    });
    return withFileSizeOption(work).option('quiet', { type: 'boolean' }) as unknown as Argv<PredictArgs>;
  },
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
        ...withoutUndefined(modelChoice(args)),
        ...(args.cache !== undefined ? { cacheDir: args.cache } : {}),
        ...deviceChoice(args),
        ...batchChoice(args),
        topK,
        ...fileSizeChoice(args),
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
