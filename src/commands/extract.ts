/** `convfeat extract`: embed every image of a dataset with a frozen backbone into a crash-safe cache. */
import type { Argv, CommandModule } from 'yargs';
import { openBackbone, prepareBackbone, type OpenBackbone } from '../backbone/load';
import { extractDataset, parseShard, splitsOf, type ExtractOptions, type ExtractSummary } from '../cache';
import { scanDataset, type Dataset, type LayoutOption } from '../dataset';
import { defaultPreprocessThreads } from '../preprocess';
import { printablePath } from '../dataset/names';
import { ConvfeatError } from '../util/errors';
import { integerInRange } from '../util/validate';
import { checkBackboneArgs, withBackboneOptions, type BackboneArgs } from './backboneOptions';
import { createProgress } from './progress';
import { handler, logger, printJson, say, setInterruptNote } from './run';

/** Images per inference call by default: batching barely helps on CPU; a GPU needs many images per call. */
const CPU_BATCH_SIZE = 8;
const GPU_BATCH_SIZE = 64;

export interface ExtractArgs extends BackboneArgs {
  data: string;
  cache: string;
  split?: string;
  layout: LayoutOption;
  'batch-size'?: number;
  workers?: number;
  shard?: string;
  strict?: boolean;
  json?: boolean;
  quiet?: boolean;
  'max-file-size'?: number;
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
      onFailure: (f) => log(`skipped ${printablePath(f.path)}: ${f.reason}`),
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
        .option('batch-size', { type: 'number', describe: 'Images per inference call (default: 8 on CPU, 64 on CUDA)' })
        .option('workers', {
          type: 'number',
          describe: 'Preprocessing worker threads (default: cores - 1, at most 4 on CPU)',
        })
        .option('shard', {
          type: 'string',
          describe: 'Extract only part i/n of the images (0-based, by content hash), e.g. $JOB_COMPLETION_INDEX/4',
        })
        .option('max-file-size', {
          type: 'number',
          describe: 'Refuse files over this many MB before reading them (default 256)',
        })
        .option('strict', { type: 'boolean', describe: 'Exit 1 if any image fails' })
        .option('json', { type: 'boolean', describe: 'Print a JSON summary on stdout' })
        .option('quiet', { type: 'boolean', describe: 'No progress, skip or summary lines (errors still print)' }),
      { modelRequired: true },
    ) as unknown as Argv<ExtractArgs>,
  handler: handler(async (args: ExtractArgs) => {
    setInterruptNote('resumable');
    checkBackboneArgs(args);
    const log = logger(args);
    const batchArg =
      args['batch-size'] === undefined ? undefined : integerInRange('--batch-size', args['batch-size'], 1, 1024);
    const workersArg = args.workers === undefined ? undefined : integerInRange('--workers', args.workers, 0, 64);
    const shard = args.shard !== undefined ? parseShard(args.shard) : undefined;
    const dataset = await scanDataset(args.data, {
      ...(args.split !== undefined ? { split: args.split } : {}),
      layout: args.layout,
    });
    for (const note of dataset.notes ?? []) log(`note: ${printablePath(note.path)}: ${note.reason}`);
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
    // The summary counts scan problems (unreadable folders, broken links, bad manifest rows) as failed images, so
    // the header counts them too: both say the same total.
    const unusable = dataset.problems.length;
    log(
      `${prepared.name}: ${backbone.identity.dim}-d embeddings from ${prepared.layer}, ${dataset.items.length + unusable} images${unusable ? ` (${unusable} unreadable)` : ''}, provider ${backbone.provider}`,
    );
    // A GPU is fed by decoding on every core and larger batches; the provider is known once the backbone is open.
    const onGpu = backbone.provider.startsWith('cuda');
    const batchSize = batchArg ?? (onGpu ? GPU_BATCH_SIZE : CPU_BATCH_SIZE);
    const workers = workersArg ?? defaultPreprocessThreads(onGpu);
    const splits = splitsOf(dataset.items);
    const summary = await extractWithProgress(dataset, backbone, {
      cacheDir: args.cache,
      batchSize,
      workers,
      ...(shard ? { shard } : {}),
      ...(args['max-file-size'] !== undefined ? { maxFileMB: args['max-file-size'] } : {}),
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
      say(
        args,
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
