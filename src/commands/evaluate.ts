/** `convfeat evaluate`: accuracy, top-k, per-class precision/recall/F1 and the confusion matrix on a cache split. */
import type { Argv, CommandModule } from 'yargs';
import { readListing } from '../cache';
import { loadClassifier } from '../linear';
import { evaluateOnCache } from '../report/evaluate';
import { formatMetricsTable, metricsToJson } from '../report/metrics';
import { handler, printJson } from './run';

export interface EvaluateArgs {
  classifier: string;
  cache: string;
  split?: string;
  json?: boolean;
  report?: string;
}

export const evaluateCommand: CommandModule<object, EvaluateArgs> = {
  command: 'evaluate',
  describe: 'Score a classifier on a cache split and print its metrics',
  builder: (y: Argv) =>
    y
      .option('classifier', { type: 'string', demandOption: true, describe: 'Classifier file written by fit-linear' })
      .option('cache', { type: 'string', demandOption: true, describe: 'Cache directory written by extract' })
      .option('split', { type: 'string', describe: 'Split to evaluate (default: test when the cache has one, else all)' })
      .option('json', { type: 'boolean', describe: 'Print the metrics as JSON' }) as unknown as Argv<EvaluateArgs>,
  handler: handler(async (args: EvaluateArgs) => {
    const clf = loadClassifier(args.classifier);
    const hasTest = (readListing(args.cache) ?? []).some((e) => e.split === 'test');
    const result = evaluateOnCache(clf, args.cache, args.split ?? (hasTest ? 'test' : undefined));
    if (args.json) {
      printJson({ classifier: args.classifier, cache: args.cache, split: result.split, solver: clf.solver, C: clf.C, backbone: clf.backbone, ...metricsToJson(result.metrics) });
    } else {
      process.stdout.write(`${clf.solver} classifier on ${clf.backbone.model ?? 'unknown backbone'} embeddings, split ${result.split}\n\n${formatMetricsTable(result.metrics)}\n`);
    }
  }),
};
