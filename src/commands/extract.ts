/** `convfeat extract`: embed every image of a dataset with a frozen backbone into a crash-safe cache. */
import type { Argv, CommandModule } from 'yargs';
import { openBackbone, prepareBackbone, type OpenBackbone } from '../backbone/load';
import { extractDataset, parseShard, type ExtractOptions, type ExtractSummary } from '../cache';
import { scanDataset, type Dataset, type LayoutOption } from '../dataset';
import { defaultPreprocessThreads } from '../preprocess';
import { ConvfeatError } from '../util/errors';
import { integerInRange } from '../util/validate';
import { checkBackboneArgs, withBackboneOptions, type BackboneArgs } from './backboneOptions';
import { createProgress } from './progress';
import { handler, logger, printJson } from './run';

export interface ExtractArgs extends BackboneArgs {
  data: string;
  cache: string;
  split?: string;
  layout: LayoutOption;
  'batch-size': number;
  workers?: number;
  shard?: string;
  strict?: boolean;
  json?: boolean;
  quiet?: boolean;
}

/** Runs an extraction with a progress bar and one `skipped PATH: reason` line per failure; closes the backbone. */
export async function extractWithProgress(
  dataset: Dataset,
  backbone: OpenBackbone,
  opts: Omit<ExtractOptions, 'onProgress' | 'onFailure' | 'warn'> & { quiet: boolean; log: (line: string) => void },
): Promise<ExtractSummary> {
  const { quiet, log, ...extractOptions } = opts;
  const progress = createProgress({ total: dataset.items.length, label: 'extract', quiet });
  try {
    return await extractDataset(dataset, backbone, {
      ...extractOptions,
      onProgress: (done) => progress.tick(done),
      onFailure: (f) => log(`skipped ${f.path}: ${f.reason}`),
      warn: log,
    });
  } finally {
    progress.finish();
    await backbone.close();
  }
}

export const extractCommand: CommandModule<object, ExtractArgs> = {
  command: 'extract',
  describe: 'Embed a dataset with a frozen backbone into a resumable cache',
  builder: (y: Argv) =>
    withBackboneOptions(
      y
        .option('data', {
          type: 'string',
          demandOption: true,
          describe: 'ImageFolder root (optionally with train/val/test), a CSV/JSONL manifest, or a folder of images',
        })
        .option('cache', {
          type: 'string',
          demandOption: true,
          describe: 'Cache directory (created if missing; reused and extended if present)',
        })
        .option('split', { type: 'string', describe: 'Only this split (train, val, test)' })
        .option('layout', {
          choices: ['auto', 'imagefolder', 'imagefolder-splits', 'unlabelled'] as const,
          default: 'auto' as LayoutOption,
        })
        .option('batch-size', { type: 'number', default: 8, describe: 'Images per inference call' })
        .option('workers', {
          type: 'number',
          describe: 'Preprocessing worker threads (default: cores - 1, at least 1)',
        })
        .option('shard', {
          type: 'string',
          describe: 'Extract only part i/n of the images (0-based, by content hash), e.g. $JOB_COMPLETION_INDEX/4',
        })
        .option('strict', { type: 'boolean', describe: 'Exit 1 if any image fails' })
        .option('json', { type: 'boolean', describe: 'Print a JSON summary on stdout' })
        .option('quiet', { type: 'boolean', describe: 'No progress or skip lines' }),
      { modelRequired: true },
    ) as unknown as Argv<ExtractArgs>,
  handler: handler(async (args: ExtractArgs) => {
    checkBackboneArgs(args);
    const log = logger(args);
    const batchSize = integerInRange('--batch-size', args['batch-size'], 1, 1024);
    const workers =
      args.workers === undefined ? defaultPreprocessThreads() : integerInRange('--workers', args.workers, 0, 64);
    const shard = args.shard !== undefined ? parseShard(args.shard) : undefined;
    const dataset = await scanDataset(args.data, {
      ...(args.split !== undefined ? { split: args.split } : {}),
      layout: args.layout,
    });
    const prepared = await prepareBackbone({
      model: args.model,
      layer: args.layer,
      preprocess: args.preprocess,
      ...(args.precision !== undefined ? { precision: args.precision } : {}),
      log,
    });
    const backbone = await openBackbone(prepared, {
      device: args.device,
      threads: args.threads,
      exif: args.exif,
      ...(args['max-pixels'] !== undefined ? { maxPixels: args['max-pixels'] } : {}),
      log,
    });
    log(
      `${prepared.name}: ${backbone.identity.dim}-d embeddings from ${prepared.layer}, ${dataset.items.length} images, provider ${backbone.provider}`,
    );
    const splits = [...new Set(dataset.items.map((i) => i.split).filter((s) => s !== undefined))];
    const summary = await extractWithProgress(dataset, backbone, {
      cacheDir: args.cache,
      batchSize,
      workers,
      ...(shard ? { shard } : {}),
      ...(args.split !== undefined || splits.length > 0 ? { splits } : {}),
      quiet: Boolean(args.quiet || args.json),
      log,
    });
    const result = {
      ...summary,
      model: prepared.name,
      fingerprint: prepared.fingerprint,
      dim: backbone.identity.dim,
      ...(backbone.fallbackReason ? { fallbackReason: backbone.fallbackReason } : {}),
    };
    if (args.json) printJson(result);
    else {
      process.stdout.write(
        `${summary.total} images: ${summary.extracted} extracted, ${summary.fromCache} from cache, ${summary.duplicates} duplicates, ${summary.failed} failed` +
          `${summary.otherShard ? `, ${summary.otherShard} in other shards` : ''}; ${summary.seconds.toFixed(1)} s${summary.extracted > 0 ? `, ${summary.imagesPerSecond.toFixed(1)} img/s on ${summary.provider}` : ''}\n` +
          `cache: ${summary.cache}${summary.failed ? ` (failures listed in failures.jsonl)` : ''}\n`,
      );
    }
    const stored = summary.extracted + summary.fromCache + summary.duplicates;
    if (summary.failed > 0 && (args.strict || stored === 0)) {
      throw new ConvfeatError(
        args.strict
          ? `${summary.failed} image(s) failed and --strict is set.`
          : `No image could be extracted; the reasons are in ${summary.cache}/failures.jsonl${args.quiet ? '' : ' and in the skipped lines above'}.`,
      );
    }
  }),
};
