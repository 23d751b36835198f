/** `convfeat evaluate`: accuracy, top-k, per-class precision/recall/F1 and the confusion matrix on a cache split. */
import type { Argv, CommandModule } from 'yargs';
import * as path from 'path';
import { readListing, readMeta } from '../cache';
import { writeReport } from '../report/writeReport';
import { loadClassifier } from '../linear';
import { evaluateOnCache } from '../report/evaluate';
import { formatMetricsTable, metricsToJson } from '../report/metrics';
import { recoverInterruptedSwap } from '../util/swapDir';
import { handler, printJson, setInterruptNote } from './run';
import { withClassifierOption, type ClassifierArgs } from './options';
import { readExcludeFile } from '../audit/csv';
import { calibrationSummary, calibrationToJson } from '../report/calibration';

export interface EvaluateArgs extends ClassifierArgs {
  cache: string;
  split?: string;
  json?: boolean;
  report?: string;
  exclude?: string;
}

export const evaluateCommand: CommandModule<object, EvaluateArgs> = {
  command: 'evaluate',
  describe: 'Score a classifier on a cache split and print its metrics',
  builder: (y: Argv) =>
    withClassifierOption(y)
      .option('cache', { type: 'string', demandOption: true, describe: 'Cache directory written by extract' })
      .option('split', {
        type: 'string',
        describe: 'Split to evaluate (default: test when the cache has splits, all images when it has none)',
      })
      .option('json', { type: 'boolean', describe: 'Print the metrics as JSON' })
      .option('exclude', {
        type: 'string',
        describe: 'CSV of images to leave out (relPath or path column; e.g. issues.csv from convfeat audit --report)',
      })
      .option('report', {
        type: 'string',
        describe: 'Also write confusion.png/.svg, curves.png and a self-contained index.html into this directory',
      }) as unknown as Argv<EvaluateArgs>,
  handler: handler(async (args: EvaluateArgs) => {
    setInterruptNote('nothing-written');
    // A report a killed run left aside (between the swap's two renames) is put back before anything can fail.
    if (args.report !== undefined) recoverInterruptedSwap(args.report);
    const clf = loadClassifier(args.classifier);
    const exclude = args.exclude !== undefined ? readExcludeFile(args.exclude) : undefined;
    const result = evaluateOnCache(clf, args.cache, args.split, undefined, exclude);
    let reportFiles: string[] | undefined;
    if (args.report !== undefined) {
      const meta = readMeta(args.cache);
      const written = await writeReport(args.report, {
        evaluation: result,
        classifier: clf,
        ...(meta ? { cacheMeta: meta } : {}),
      });
      reportFiles = written.files;
      if (!args.json)
        process.stderr.write(
          `report: ${path.join(written.dir, 'index.html')}${written.curvesNote ? ` (${written.curvesNote})` : ''}\n`,
        );
    }
    if (args.json) {
      printJson({
        classifier: args.classifier,
        cache: args.cache,
        split: result.split,
        solver: clf.solver,
        C: clf.C,
        backbone: clf.backbone,
        ...metricsToJson(result.metrics),
        calibration: calibrationToJson(calibrationSummary(result.probabilities, result.yTrue, clf.classes.length)),
        ...(reportFiles ? { report: reportFiles } : {}),
      });
    } else {
      process.stdout.write(
        `${clf.solver} classifier on ${clf.backbone.model ?? 'unknown backbone'} embeddings, split ${result.split}\n\n${formatMetricsTable(result.metrics)}\n`,
      );
    }
  }),
};
