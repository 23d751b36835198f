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
import { scanDataset, type Dataset } from '../dataset';
import { MINI_SPLIT_FRACTIONS, stratifiedSplit, writeSplitManifest } from '../dataset/split';
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

/** An archive often unpacks to one folder inside another (natural-images/natural_images/...): step into it. */
function descendSingleFolder(dir: string): string {
  const isDir = (p: string): boolean => fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
  let current = dir;
  for (let depth = 0; depth < 3; depth++) {
    let names: string[];
    try {
      names = fs.readdirSync(current).filter((n) => !n.startsWith('.'));
    } catch {
      return current;
    }
    if (names.length !== 1 || !isDir(path.join(current, names[0]!))) return current;
    const inner = path.join(current, names[0]!);
    // One class folder of images is a (useless) one-class dataset, not a wrapper: stop where images are.
    if (!fs.readdirSync(inner).some((n) => isDir(path.join(inner, n)))) return current;
    current = inner;
  }
  return current;
}

export interface DemoData {
  dataset: Dataset;
  /** 'given' when the input had train/val/test; else the manifest the split was written to. */
  splitManifest: string | null;
  input: string;
}

/** Finds the data, and splits a class-only folder (or a manifest without splits) into train/val/test. */
export async function demoDataset(
  data: string | undefined,
  outDir: string,
  seed: number,
  log: (line: string) => void,
): Promise<DemoData> {
  const isDefault = data === undefined;
  const given = data ?? defaultDataRoot();
  if (!fs.existsSync(given)) throw new ConvfeatError(missingDataMessage(given, isDefault));
  const input = fs.statSync(given).isDirectory() ? descendSingleFolder(given) : given;
  if (input !== given) log(`using ${input} (the folder inside ${given})`);
  const scanned = await scanDataset(input);
  if (scanned.kind === 'unlabelled')
    throw new ConvfeatError(
      `${input} has no class folders; the demo needs labelled images: one folder per class (<class>/*.jpg), or train/val/test/<class>/, or a manifest with a label column.`,
    );
  const splits = new Set(scanned.items.map((i) => i.split));
  if (!splits.has(undefined)) {
    if (splits.has('train') && splits.has('test')) return { dataset: scanned, splitManifest: null, input };
    throw new ConvfeatError(
      `${input} has only ${[...splits].join(' and ')}, but the demo needs at least train and test; add the missing split, or point --data at a folder of class folders to have it split here.`,
    );
  }
  if (splits.size > 1)
    throw new ConvfeatError(
      `Some images of ${input} have a split and others do not; give every row a split, or none to have the demo split them.`,
    );
  const items = stratifiedSplit(scanned, { seed });
  const manifest = writeSplitManifest(path.join(outDir, `split-seed${seed}.jsonl`), items);
  const n = (s: string): number => items.filter((i) => i.split === s).length;
  log(
    `${input} has no train/val/test folders: split its ${items.length} images, per class, seed ${seed}, ` +
      `${(100 * MINI_SPLIT_FRACTIONS.train).toFixed(0)}/${(100 * MINI_SPLIT_FRACTIONS.val).toFixed(0)}/rest % as in Mini Natural Images: ` +
      `train ${n('train')}, val ${n('val')}, test ${n('test')} -> ${manifest}`,
  );
  const dataset = await scanDataset(manifest);
  return {
    dataset: { ...dataset, problems: [...scanned.problems, ...dataset.problems] },
    splitManifest: manifest,
    input,
  };
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
