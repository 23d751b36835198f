/**
 * `convfeat demo`: the whole job in one command — fetch the backbone, extract train/val/test into a cache, fit a
 * linear SVM and a softmax with C chosen on val, evaluate both on test, write an HTML report, and advise whether
 * more data or fine-tuning would pay off. It runs on Mini Natural Images (train/val/test/<class>/), on the full
 * Natural Images set or any ImageFolder (<class>/ only: split here, deterministically, into a manifest beside the
 * cache), or on a manifest with a split column. Every step is a library call the other commands make too; rerunning
 * reuses the model and the cache.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Argv, CommandModule } from 'yargs';
import { openBackbone, prepareBackbone } from '../backbone/load';
import { packageRoot } from '../backbone/store';
import { readMeta } from '../cache';
import { labelledSplits, type LabelledSplits } from '../dataset/labelledSplits';
import { saveClassifier, type SolverKind } from '../linear';
import { fitFromCache } from '../linear/fitCache';
import { advise } from '../report/advise';
import { formatAdvice } from '../report/adviceChart';
import { evaluateOnCache } from '../report/evaluate';
import { formatMetricsTable, metricsToJson } from '../report/metrics';
import { writeReport } from '../report/writeReport';
import { defaultPreprocessThreads } from '../preprocess';
import { ConvfeatError, describeError, isConvfeatError } from '../util/errors';
import { integerInRange } from '../util/validate';
import { extractWithProgress } from './extract';
import { handler, logger, printJson, setInterruptNote } from './run';
import { deviceChoice, modelChoice, withDeviceOptions, withModelOptions, type DeviceArgs } from './options';

interface DemoArgs extends DeviceArgs {
  data?: string;
  out: string;
  model: string;
  precision?: string;
  seed: number;
  advise: boolean;
  json?: boolean;
  quiet?: boolean;
}

export function defaultDataRoot(): string {
  return process.env.CONVFEAT_DATA ?? path.resolve(packageRoot(), '..', 'shared', 'data', 'mini_natural_images');
}

export const NATURAL_IMAGES_URL = 'https://www.kaggle.com/datasets/prasunroy/natural-images';
export const MINI_SPLIT_URL = 'https://github.com/haritha91/Multiclass-Image-Classifier-pytorch-Transfer-Learning';

/** What to do when the demo's data is not there: what the dataset is, where it is published, the exact command. */
export function missingDataMessage(data: string, isDefault: boolean): string {
  return (
    `${isDefault ? 'The demo data is not at' : '--data'} ${data}${isDefault ? '' : ' does not exist'}. ` +
    'The demo uses Mini Natural Images: 3,626 photos of 8 classes (airplane, car, cat, dog, flower, fruit, motorbike, ' +
    'person) in train/val/test folders, the split of the original fine-tuning demonstration ' +
    `(${MINI_SPLIT_URL}, folder mini_natural_images/) taken from the Natural Images dataset ` +
    `(6,899 photos in the same 8 classes, published by Prasun Roy at ${NATURAL_IMAGES_URL}). ` +
    'Download either one and unpack it, then run: npm run demo -- --data PATH/natural_images ' +
    '(the folder holding the class folders, or the one holding train/val/test; a full set is split 28/19/53 % ' +
    'here, reproducibly), or set CONVFEAT_DATA to that folder. Any folder of class subfolders of your own works the same way.'
  );
}

/** The demo's data: the default folder when none is given, its own sentence when the folder is missing. */
export async function demoDataset(
  data: string | undefined,
  outDir: string,
  seed: number,
  log: (line: string) => void,
): Promise<LabelledSplits> {
  const given = data ?? defaultDataRoot();
  if (!fs.existsSync(given)) throw new ConvfeatError(missingDataMessage(given, data === undefined));
  return labelledSplits(given, { seed, manifestDir: outDir, log, purpose: 'the demo' });
}

export const demoCommand: CommandModule<object, DemoArgs> = {
  command: 'demo',
  describe:
    'One command: fetch ResNet50, extract Mini Natural Images (or --data DIR: any folder of class folders), fit SVM and softmax (C on val), evaluate on test, HTML report, advice',
  builder: (y: Argv) =>
    withDeviceOptions(
      withModelOptions(
        y
          .option('data', {
            type: 'string',
            describe:
              'train/val/test/<class>/ (Mini Natural Images), or <class>/ only (full Natural Images, your own photos: split here 28/19/53 %), or a manifest. Default: CONVFEAT_DATA, else ../shared/data/mini_natural_images',
          })
          .option('out', {
            type: 'string',
            default: path.join('data', 'demo'),
            describe: 'Where the split manifest, cache, classifiers and reports go',
          }),
        { model: { default: 'resnet50' }, layer: false, preprocess: false },
      ),
    )
      .option('seed', { type: 'number', default: 0, describe: 'Seed of the split made for a folder without splits' })
      .option('advise', { type: 'boolean', default: true, describe: 'Run the learning curve and advice (--no-advise)' })
      .option('json', { type: 'boolean' })
      .option('quiet', { type: 'boolean' }) as unknown as Argv<DemoArgs>,
  handler: handler(async (args: DemoArgs) => {
    setInterruptNote('resumable');
    const log = logger(args);
    const say = args.json || args.quiet ? log : (line: string) => process.stdout.write(`${line}\n`);
    const seed = integerInRange('--seed', args.seed, 0, 2 ** 31 - 1);
    const { precision } = modelChoice(args);
    // The data first: a missing dataset is said before minutes of model download.
    const { dataset, splitManifest, input } = await demoDataset(args.data, args.out, seed, log);
    say(`1/5 model: ${args.model}${precision === 'int8' ? ' (int8)' : ''}`);
    const prepared = await prepareBackbone({ model: args.model, ...(precision ? { precision } : {}), log });
    // One cache per backbone (int8 embeddings are another space); a model given as a file path gives its name.
    const cacheDir = path.join(args.out, `cache-${prepared.name.replace(/[^A-Za-z0-9._-]+/g, '_')}`);
    const backbone = await openBackbone(prepared, { ...deviceChoice(args), log });
    say(`2/5 extract: ${input} -> ${cacheDir} (${backbone.identity.dim}-d, ${backbone.provider})`);
    const extraction = await extractWithProgress(dataset, backbone, {
      cacheDir,
      workers: defaultPreprocessThreads(),
      quiet: Boolean(args.quiet || args.json),
      log,
    });
    say(
      `    ${extraction.extracted} extracted, ${extraction.fromCache} from cache, ${extraction.failed} failed, ${extraction.seconds.toFixed(1)} s`,
    );
    const results: Record<string, unknown>[] = [];
    const meta = readMeta(cacheDir);
    for (const solver of ['svm', 'softmax'] as SolverKind[]) {
      say(`3/5 fit-linear --solver ${solver} (C chosen on val)`);
      const fit = await fitFromCache(cacheDir, { solver, C: 'auto', scale: 'none' });
      const file = path.join(args.out, `${solver}.json`);
      saveClassifier(file, fit.classifier);
      say(
        `    C = ${fit.classifier.C.toPrecision(3)}, val accuracy ${(100 * (fit.valAccuracy ?? NaN)).toFixed(2)} %, ${fit.seconds.toFixed(2)} s -> ${file}`,
      );
      say(`4/5 evaluate ${solver} on test`);
      const evaluation = evaluateOnCache(fit.classifier, cacheDir, 'test');
      if (!args.json) say(`${formatMetricsTable(evaluation.metrics)}\n`);
      const report = await writeReport(path.join(args.out, `report-${solver}`), {
        evaluation,
        classifier: fit.classifier,
        ...(meta ? { cacheMeta: meta } : {}),
      });
      const page = path.join(report.dir, 'index.html');
      say(`    report: ${page}`);
      results.push({
        solver,
        C: fit.classifier.C,
        fitSeconds: fit.seconds,
        valAccuracy: fit.valAccuracy,
        classifier: file,
        report: page,
        test: metricsToJson(evaluation.metrics),
      });
    }
    let advice: unknown = null;
    if (args.advise) {
      say('5/5 advise: learning curve on train, scored on val');
      try {
        const result = await advise(cacheDir, { solver: 'svm' });
        advice = result;
        if (!args.json) say(formatAdvice(result));
      } catch (e) {
        // Too few images per class for a curve is a fact about the data, not a failure of the demo.
        if (!isConvfeatError(e)) throw e;
        say(`    no advice: ${describeError(e)}`);
      }
    }
    const line = results
      .map((r) => `${r.solver} ${(100 * (r.test as { accuracy: number }).accuracy).toFixed(2)} %`)
      .join(', ');
    say(
      `test accuracy (${prepared.name} frozen features + linear classifier${splitManifest ? `, split ${path.basename(splitManifest)}` : ''}): ${line}; the fine-tuned ResNet18 of the original demonstration reached 97 % on Mini Natural Images.`,
    );
    say(`HTML report: ${results.map((r) => r.report).join(' and ')}`);
    if (args.json)
      printJson({
        model: prepared.name,
        fingerprint: prepared.fingerprint,
        data: input,
        splitManifest,
        cache: cacheDir,
        extraction: { ...extraction, failures: extraction.failures.length },
        results,
        advice,
      });
  }),
};
