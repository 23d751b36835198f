/** `convfeat similar QUERY`: the nearest cached images of a listed image or of a new file embedded on the fly. */
import type { Argv, CommandModule } from 'yargs';
import { similarImages } from '../audit/similar';
import { handler, logger, printJson } from './run';
import { modelChoice, withDeviceOptions, withModelOptions, type DeviceArgs, type ModelArgs } from './options';

interface SimilarArgs extends ModelArgs, DeviceArgs {
  query: string;
  cache: string;
  k: number;
  json?: boolean;
  quiet?: boolean;
  exact?: boolean;
}

export const similarCommand: CommandModule<object, SimilarArgs> = {
  command: 'similar <query>',
  describe: 'Nearest neighbours of an image among the cached embeddings (cosine similarity)',
  builder: (y: Argv) =>
    withDeviceOptions(
      withModelOptions(
        y
          .positional('query', {
            type: 'string',
            demandOption: true,
            describe: 'An image listed in the cache, or any image file',
          })
          .option('cache', { type: 'string', demandOption: true, describe: 'Cache directory written by extract' })
          .option('k', { alias: 'top', type: 'number', default: 10, describe: 'How many neighbours' }),
        { precision: false },
      ),
      { threads: false },
    )
      .option('exact', {
        type: 'boolean',
        describe: 'Scan every cached row instead of the vector index (used from 100,000 rows on)',
      })
      .option('json', { type: 'boolean', describe: 'Print the neighbours as JSON' })
      .option('quiet', { type: 'boolean' }) as unknown as Argv<SimilarArgs>,
  handler: handler(async (args: SimilarArgs) => {
    const result = await similarImages(args.cache, args.query, {
      k: args.k,
      ...modelChoice(args),
      device: args.device,
      ...(args.exact ? { exact: true } : {}),
      log: logger(args),
    });
    if (args.json) printJson(result);
    else {
      const how =
        result.source === 'listed'
          ? 'listed in the cache'
          : result.source === 'cached-bytes'
            ? 'same bytes as a cached image'
            : 'embedded now';
      const lines = result.matches.map(
        (m, i) =>
          `${String(i + 1).padStart(3)}  ${m.score.toFixed(4)}  ${m.relPath}${m.label !== undefined ? `  (${m.label}${m.split ? `, ${m.split}` : ''})` : ''}`,
      );
      process.stdout.write(`nearest ${result.matches.length} to ${args.query} (${how}):\n${lines.join('\n')}\n`);
    }
  }),
};
