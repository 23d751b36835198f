/**
 * `convfeat demo`: the whole job on Mini Natural Images — fetch ResNet50, extract train/val/test into a cache,
 * fit a linear SVM and a softmax with C chosen on val, evaluate both on test. Every step is a library call the
 * other commands make too; rerunning reuses the model and the cache.
 */
import * as path from 'path';
import type { Argv, CommandModule } from 'yargs';
import { openBackbone, prepareBackbone } from '../backbone/load';
import { packageRoot } from '../backbone/store';
import { scanDataset } from '../dataset';
import { saveClassifier, type SolverKind } from '../linear';
import { fitFromCache } from '../linear/fitCache';
import { evaluateOnCache } from '../report/evaluate';
import { formatMetricsTable, metricsToJson } from '../report/metrics';
import { defaultPreprocessThreads } from '../preprocess';
import { extractWithProgress } from './extract';
import { handler, logger, printJson } from './run';
import { PRECISION_OPTION } from './backboneOptions';
import { parsePrecision } from '../backbone/quantize/variant';

interface DemoArgs {
  data: string;
  out: string;
  model: string;
  precision?: string;
  device: string;
  threads?: number;
  json?: boolean;
  quiet?: boolean;
}

export function defaultDataRoot(): string {
  return process.env.CONVFEAT_DATA ?? path.resolve(packageRoot(), '..', 'shared', 'data', 'mini_natural_images');
}

export const demoCommand: CommandModule<object, DemoArgs> = {
  command: 'demo',
  describe: 'Fetch ResNet50, extract Mini Natural Images, fit SVM and softmax on train (C on val), evaluate on test',
  builder: (y: Argv) =>
    y
      .option('data', {
        type: 'string',
        default: defaultDataRoot(),
        describe: 'Dataset root with train/val/test (CONVFEAT_DATA overrides the default)',
      })
      .option('out', {
        type: 'string',
        default: path.join('data', 'demo'),
        describe: 'Where the cache and classifiers go',
      })
      .option('model', { type: 'string', default: 'resnet50' })
      .option('precision', PRECISION_OPTION)
      .option('device', { type: 'string', default: 'auto' })
      .option('threads', { type: 'number' })
      .option('json', { type: 'boolean' })
      .option('quiet', { type: 'boolean' }) as unknown as Argv<DemoArgs>,
  handler: handler(async (args: DemoArgs) => {
    const log = logger(args);
    const say = args.json ? log : (line: string) => process.stdout.write(`${line}\n`);
    const precision = args.precision === undefined ? undefined : parsePrecision(args.precision);
    // int8 embeddings are another embedding space: they get their own cache.
    const cacheDir = path.join(args.out, `cache-${args.model}${precision === 'int8' ? '-int8' : ''}`);
    say(`1/4 model: ${args.model}`);
    const prepared = await prepareBackbone({ model: args.model, ...(precision ? { precision } : {}), log });
    const backbone = await openBackbone(prepared, {
      device: args.device,
      ...(args.threads !== undefined ? { threads: args.threads } : {}),
      log,
    });
    say(`2/4 extract: ${args.data} -> ${cacheDir} (${backbone.identity.dim}-d, ${backbone.provider})`);
    const dataset = await scanDataset(args.data);
    const extraction = await extractWithProgress(dataset, backbone, {
      cacheDir,
      workers: defaultPreprocessThreads(),
      quiet: Boolean(args.quiet),
      log,
    });
    say(
      `    ${extraction.extracted} extracted, ${extraction.fromCache} from cache, ${extraction.failed} failed, ${extraction.seconds.toFixed(1)} s`,
    );
    const results: Record<string, unknown>[] = [];
    for (const solver of ['svm', 'softmax'] as SolverKind[]) {
      say(`3/4 fit-linear --solver ${solver} (C chosen on val)`);
      const fit = await fitFromCache(cacheDir, { solver, C: 'auto', scale: 'none' });
      const file = path.join(args.out, `${solver}.json`);
      saveClassifier(file, fit.classifier);
      say(
        `    C = ${fit.classifier.C.toPrecision(3)}, val accuracy ${(100 * (fit.valAccuracy ?? NaN)).toFixed(2)} %, ${fit.seconds.toFixed(2)} s -> ${file}`,
      );
      say(`4/4 evaluate ${solver} on test`);
      const evaluation = evaluateOnCache(fit.classifier, cacheDir, 'test');
      if (!args.json) say(`${formatMetricsTable(evaluation.metrics)}\n`);
      results.push({
        solver,
        C: fit.classifier.C,
        fitSeconds: fit.seconds,
        valAccuracy: fit.valAccuracy,
        classifier: file,
        test: metricsToJson(evaluation.metrics),
      });
    }
    const line = results
      .map((r) => `${r.solver} ${(100 * (r.test as { accuracy: number }).accuracy).toFixed(2)} %`)
      .join(', ');
    say(
      `test accuracy (${prepared.name} frozen features + linear classifier): ${line}; the fine-tuned ResNet18 of the original demonstration reached 97 %.`,
    );
    if (args.json)
      printJson({
        model: prepared.name,
        fingerprint: prepared.fingerprint,
        cache: cacheDir,
        extraction: { ...extraction, failures: extraction.failures.length },
        results,
      });
  }),
};
