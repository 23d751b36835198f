/** `convfeat cache export | merge | info | compact`: the embedding cache for NumPy users and for many machines. */
import type { Argv, CommandModule } from 'yargs';
import { cacheInfo, compactCache, exportCache, mergeCaches } from '../cache';
import * as path from 'path';
import { removeDeadTemps } from '../util/atomic';
import { ensureDir } from '../util/dirs';
import { handler, logger, printJson, say } from './run';

interface ExportArgs {
  cache: string;
  split?: string;
  out: string;
  json?: boolean;
}
interface MergeArgs {
  cache: string;
  from: string[];
  json?: boolean;
  quiet?: boolean;
}
interface InfoArgs {
  cache: string;
  json?: boolean;
}

const exportCommand: CommandModule<object, ExportArgs> = {
  command: 'export',
  describe: 'Write X.npy, y.npy, classes.json and paths.txt for NumPy users',
  builder: (y: Argv) =>
    y
      .option('cache', { type: 'string', demandOption: true, describe: 'Cache directory' })
      .option('split', { type: 'string', describe: 'Only this split (train, val, test)' })
      .option('out', { type: 'string', demandOption: true, describe: 'Output directory' })
      .option('json', { type: 'boolean', describe: 'Print a JSON summary' }) as unknown as Argv<ExportArgs>,
  handler: handler(async (args: ExportArgs) => {
    ensureDir(args.out, '--out'); // a file in its place, /proc, a read-only parent: one sentence before any work
    for (const f of ['X.npy', 'y.npy', 'classes.json', 'paths.txt']) removeDeadTemps(path.join(args.out, f));
    const result = exportCache(args.cache, { out: args.out, split: args.split });
    if (args.json) printJson(result);
    else
      process.stdout.write(
        `wrote ${result.rows} × ${result.dim} embeddings, ${result.classes} classes:\n  ${result.files.join('\n  ')}\n`,
      );
  }),
};

const mergeCommand: CommandModule<object, MergeArgs> = {
  command: 'merge',
  describe: 'Union caches made with the same model (e.g. by --shard i/n jobs) into --cache',
  builder: (y: Argv) =>
    y
      .option('cache', { type: 'string', demandOption: true, describe: 'Target cache directory (created if missing)' })
      .option('from', { type: 'string', array: true, demandOption: true, describe: 'Source cache directories' })
      .option('json', { type: 'boolean' })
      .option('quiet', { type: 'boolean' }) as unknown as Argv<MergeArgs>,
  handler: handler(async (args: MergeArgs) => {
    const result = mergeCaches(args.from, args.cache, { warn: logger(args) });
    if (args.json) printJson(result);
    else
      say(
        args,
        `merged: ${result.added} new rows, ${result.duplicates} already present, ${result.rows} rows and ${result.listed} listed images in ${args.cache}\n`,
      );
  }),
};

const infoCommand: CommandModule<object, InfoArgs> = {
  command: 'info',
  describe: 'Show what a cache holds: model, dimension, rows, splits, failures',
  builder: (y: Argv) =>
    y
      .option('cache', { type: 'string', demandOption: true })
      .option('json', { type: 'boolean' }) as unknown as Argv<InfoArgs>,
  handler: handler(async (args: InfoArgs) => {
    const info = cacheInfo(args.cache);
    if (args.json) printJson(info);
    else {
      process.stdout.write(
        [
          `model        ${info.model} (fingerprint ${info.modelFingerprint})`,
          `preprocess   ${info.preprocessFingerprint}`,
          `embeddings   ${info.rows} × ${info.dim} in ${info.shards} shard(s)`,
          `listed       ${info.listed} images: ${
            Object.entries(info.splits)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ') || '-'
          }`,
          `failures     ${info.failures}`,
        ].join('\n') + '\n',
      );
    }
  }),
};

interface CompactArgs {
  cache: string;
}
const compactCommand: CommandModule<object, CompactArgs> = {
  command: 'compact',
  describe: 'Rewrite the cache into few large shards',
  builder: (y: Argv) => y.option('cache', { type: 'string', demandOption: true }) as unknown as Argv<CompactArgs>,
  handler: handler(async (args: CompactArgs) => {
    const r = compactCache(args.cache);
    process.stdout.write(`compacted ${r.shardsBefore} shard(s) into ${r.shardsAfter}\n`);
  }),
};

export const cacheCommand: CommandModule = {
  command: 'cache <command>',
  describe: 'Export, merge, inspect or compact an embedding cache',
  builder: (y: Argv) =>
    y
      .command(exportCommand as unknown as CommandModule)
      .command(mergeCommand as unknown as CommandModule)
      .command(infoCommand as unknown as CommandModule)
      .command(compactCommand as unknown as CommandModule)
      .demandCommand(1),
  handler: () => undefined,
};
