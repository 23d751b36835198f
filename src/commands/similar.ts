/** `convfeat similar QUERY`: the nearest cached images of a listed image or of a new file embedded on the fly. */
import type { Argv, CommandModule } from 'yargs';
import { similarImages } from '../audit/similar';
import { handler, logger, printJson } from './run';

interface SimilarArgs {
  query: string;
  cache: string;
  k: number;
  json?: boolean;
  quiet?: boolean;
  model?: string;
  layer?: string;
  preprocess?: string;
  device: string;
  exact?: boolean;
}

export const similarCommand: CommandModule<object, SimilarArgs> = {
  command: 'similar <query>',
  describe: 'Nearest neighbours of an image among the cached embeddings (cosine similarity)',
  builder: (y: Argv) =>
    y
      .positional('query', {
        type: 'string',
        demandOption: true,
        describe: 'An image listed in the cache, or any image file',
      })
      .option('cache', { type: 'string', demandOption: true, describe: 'Cache directory written by extract' })
      .option('k', { alias: 'top', type: 'number', default: 10, describe: 'How many neighbours' })
      .option('model', {
        type: 'string',
        describe: 'The ONNX file that made the cache, when it is not a known model (a new query is embedded with it)',
      })
      .option('layer', { type: 'string', describe: 'The --layer the cache was extracted with, if any' })
      .option('preprocess', { type: 'string', describe: 'The --preprocess the cache was extracted with, if any' })
      .option('device', { type: 'string', default: 'auto', describe: 'auto, cpu, cuda or cuda:N' })
      .option('exact', {
        type: 'boolean',
        describe: 'Scan every cached row instead of the vector index (used from 100,000 rows on)',
      })
      .option('json', { type: 'boolean', describe: 'Print the neighbours as JSON' })
      .option('quiet', { type: 'boolean' }) as unknown as Argv<SimilarArgs>,
  handler: handler(async (args: SimilarArgs) => {
    const result = await similarImages(args.cache, args.query, {
      k: args.k,
      ...(args.model !== undefined ? { model: args.model } : {}),
      ...(args.layer !== undefined ? { layer: args.layer } : {}),
      ...(args.preprocess !== undefined ? { preprocess: args.preprocess } : {}),
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
