/** `convfeat extract`: embed every image of a dataset with a frozen backbone into a crash-safe cache. */
import type { Argv, CommandModule } from 'yargs';
import { openBackbone, prepareBackbone, type OpenBackbone } from '../backbone/load';
import { extractDataset, parseShard, splitsOf, type ExtractOptions, type ExtractSummary } from '../cache';
import { scanDataset, type Dataset } from '../dataset';
import { defaultPreprocessThreads } from '../preprocess';
import { printablePath } from '../dataset/names';
import { ConvfeatError } from '../util/errors';
import {
  backboneChoice,
  batchChoice,
  fileSizeChoice,
  withBackboneOptions,
  withBatchOptions,
  withFileSizeOption,
  withLayoutOption,
  type BackboneArgs,
  type BatchArgs,
  type FileSizeArgs,
  type LayoutArgs,
} from './options';
import { createProgress } from './progress';
import { handler, logger, printJson, say, setInterruptNote } from './run';

/** Images per inference call by default: batching barely helps on CPU; a GPU needs many images per call. */
const CPU_BATCH_SIZE = 8;
const GPU_BATCH_SIZE = 64;

export interface ExtractArgs extends BackboneArgs, LayoutArgs, BatchArgs, FileSizeArgs {
  model: string;
  data: string;
  cache: string;
  split?: string;
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
  builder: (y: Argv) => {
    const input = y
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
      .option('split', { type: 'string', describe: 'Only this split (train, val, test)' });
    const work = withBatchOptions(withLayoutOption(input)).option('shard', {
      type: 'string',
      describe: 'Extract only part i/n of the images (0-based, by content hash), e.g. $JOB_COMPLETION_INDEX/4',
    });
    const output = withFileSizeOption(work)
      .option('strict', { type: 'boolean', describe: 'Exit 1 if any image fails' })
      .option('json', { type: 'boolean', describe: 'Print a JSON summary on stdout' })
      .option('quiet', { type: 'boolean', describe: 'No progress, skip or summary lines (errors still print)' });
    return withBackboneOptions(output, { modelRequired: true }) as unknown as Argv<ExtractArgs>;
  },
  handler: handler(async (args: ExtractArgs) => {
    setInterruptNote('resumable');
    const backboneArgs = backboneChoice(args);
    const log = logger(args);
    const batchArgs = batchChoice(args);
    const shard = args.shard !== undefined ? parseShard(args.shard) : undefined;
    const dataset = await scanDataset(args.data, {
      ...(args.split !== undefined ? { split: args.split } : {}),
      layout: args.layout,
    });
    for (const note of dataset.notes ?? []) log(`note: ${printablePath(note.path)}: ${note.reason}`);
    const prepared = await prepareBackbone({ ...backboneArgs.model, log });
    const backbone = await openBackbone(prepared, { ...backboneArgs.device, ...backboneArgs.image, log });
    // The summary counts scan problems (unreadable folders, broken links, bad manifest rows) as failed images, so
    // the header counts them too: both say the same total.
    const unusable = dataset.problems.length;
    log(
      `${prepared.name}: ${backbone.identity.dim}-d embeddings from ${prepared.layer}, ${dataset.items.length + unusable} images${unusable ? ` (${unusable} unreadable)` : ''}, provider ${backbone.provider}`,
    );
    // A GPU is fed by decoding on every core and larger batches; the provider is known once the backbone is open.
    const onGpu = backbone.provider.startsWith('cuda');
    const batchSize = batchArgs.batchSize ?? (onGpu ? GPU_BATCH_SIZE : CPU_BATCH_SIZE);
    const workers = batchArgs.workers ?? defaultPreprocessThreads(onGpu);
    const splits = splitsOf(dataset.items);
    const summary = await extractWithProgress(dataset, backbone, {
      cacheDir: args.cache,
      batchSize,
      workers,
      ...(shard ? { shard } : {}),
      ...fileSizeChoice(args),
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
