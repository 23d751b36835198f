/** `convfeat models list | fetch NAME | inspect FILE.onnx`: the model store and what a model file holds. */
import type { Argv, CommandModule } from 'yargs';
import { modelStoreDir } from '../backbone/load';
import { formatModelInfo, inspectModel } from '../backbone/graph/inspect';
import { fetchModel, modelCatalog, resolveModel } from '../backbone/store';
import { handler, logger, printJson, say } from './run';
import { quantizeCommand } from './modelsQuantize';
import { scanDataset } from '../dataset';
import { fitCodebookFromDataset } from '../backbone/classical/fit';
import { writeCodebook } from '../backbone/classical';
import { bowDimension } from '../backbone/classical/codebook';
import { integerInRange, nonEmptyString } from '../util/validate';
import { UsageError } from '../util/errors';

interface ListArgs {
  json?: boolean;
}
interface FetchArgs {
  name: string;
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
}
interface InspectArgs {
  file: string;
  json?: boolean;
}

const listCommand: CommandModule<object, ListArgs> = {
  command: 'list',
  describe: 'Known models, their embedding size and whether they are fetched',
  builder: (y: Argv) => y.option('json', { type: 'boolean' }) as unknown as Argv<ListArgs>,
  handler: handler(async (args: ListArgs) => {
    const store = modelStoreDir();
    const rows = modelCatalog(store);
    if (args.json) return printJson(rows);
    const w = Math.max(...rows.map((r) => r.name.length), 4);
    process.stdout.write(`${'name'.padEnd(w)}  ${'dim'.padStart(5)}  fetched  source\n`);
    for (const r of rows) {
      process.stdout.write(
        `${r.name.padEnd(w)}  ${String(r.dim).padStart(5)}  ${(r.fetched ? 'yes' : 'no').padEnd(7)}  ${r.source}\n`,
      );
    }
    process.stdout.write(`\nstore: ${store} (CONVFEAT_MODEL_DIR overrides)\n`);
  }),
};

const fetchCommand: CommandModule<object, FetchArgs> = {
  command: 'fetch <name>',
  describe: 'Download (and convert) a known model into the store, verifying its sha256',
  builder: (y: Argv) =>
    y
      .positional('name', { type: 'string', demandOption: true, describe: 'Model name (convfeat models list)' })
      .option('force', { type: 'boolean', describe: 'Download/convert again even if a verified file exists' })
      .option('json', { type: 'boolean' })
      .option('quiet', { type: 'boolean' }) as unknown as Argv<FetchArgs>,
  handler: handler(async (args: FetchArgs) => {
    resolveModel(args.name);
    const started = Date.now();
    const result = await fetchModel(args.name, { storeDir: modelStoreDir(), force: args.force, log: logger(args) });
    const summary = { model: args.name, ...result, seconds: (Date.now() - started) / 1000 };
    if (args.json) printJson(summary);
    else
      say(
        args,
        `${args.name}: ${result.file} (sha256 ${result.sha256.slice(0, 16)}…)${result.fromCache ? ', already fetched' : ''}\n`,
      );
  }),
};

const inspectCommand: CommandModule<object, InspectArgs> = {
  command: 'inspect <file>',
  describe: 'Inputs, outputs and candidate embedding layers of an ONNX model',
  builder: (y: Argv) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'An .onnx file' })
      .option('json', { type: 'boolean' }) as unknown as Argv<InspectArgs>,
  handler: handler(async (args: InspectArgs) => {
    const info = inspectModel(args.file);
    if (args.json) printJson(info);
    else process.stdout.write(`${formatModelInfo(info)}\n`);
  }),
};

interface CodebookArgs {
  data: string;
  out: string;
  words: number;
  'max-images': number;
  seed: number;
  split: string;
  json?: boolean;
  quiet?: boolean;
}

const codebookCommand: CommandModule<object, CodebookArgs> = {
  command: 'codebook',
  describe: 'Fit the ORB bag-of-visual-words codebook (classical:orb-bow) on the train split of a dataset',
  builder: (y: Argv) =>
    y
      .option('data', {
        type: 'string',
        demandOption: true,
        describe: 'Image folder or manifest; only its train split is used',
      })
      .option('out', {
        type: 'string',
        demandOption: true,
        describe: 'Codebook .json to write; pass it later as --model',
      })
      .option('words', { type: 'number', default: 256, describe: 'Visual words (k-means clusters)' })
      .option('max-images', { type: 'number', default: 400, describe: 'Train images sampled evenly for the fit' })
      .option('seed', { type: 'number', default: 0, describe: 'Seed of the descriptor sample and k-means++' })
      .option('split', { type: 'string', default: 'train', describe: 'The split to fit on' })
      .option('json', { type: 'boolean', describe: 'Print a JSON summary' })
      .option('quiet', { type: 'boolean', describe: 'No progress lines' })
      .example('$0 models codebook --data photos/ --out orb-bow.json', 'fit on photos/train/<class>/')
      .example(
        '$0 extract --model orb-bow.json --data photos/ --cache cache-bow/',
        'then extract with it',
      ) as unknown as Argv<CodebookArgs>,
  handler: handler(async (args: CodebookArgs) => {
    nonEmptyString('--out', args.out);
    if (!args.out.toLowerCase().endsWith('.json')) {
      throw new UsageError(`Expected --out to be a .json file but received ${JSON.stringify(args.out)}`);
    }
    const words = integerInRange('--words', args.words, 2, 4096);
    const maxImages = integerInRange('--max-images', args['max-images'], 1, 1_000_000);
    const seed = integerInRange('--seed', args.seed, 0, 2 ** 31 - 1);
    const started = Date.now();
    const dataset = await scanDataset(args.data);
    const codebook = await fitCodebookFromDataset(dataset, {
      words,
      maxImages,
      seed,
      split: args.split,
      log: logger(args),
    });
    writeCodebook(args.out, codebook);
    const summary = {
      out: args.out,
      model: 'classical:orb-bow',
      words,
      dim: bowDimension(codebook),
      fittedOn: codebook.fittedOn,
      seconds: (Date.now() - started) / 1000,
    };
    if (args.json) printJson(summary);
    else
      say(
        args,
        `wrote ${args.out}: ${words} ORB words from ${codebook.fittedOn.descriptors} descriptors of ${codebook.fittedOn.images} ${codebook.fittedOn.split} images (${summary.dim}-d features); use --model ${args.out}\n`,
      );
  }),
};

export const modelsCommand: CommandModule = {
  command: 'models <command>',
  describe: 'List, fetch, inspect and quantise backbone models; fit a classical bag-of-words codebook',
  builder: (y: Argv) =>
    y
      .command(listCommand as unknown as CommandModule)
      .command(fetchCommand as unknown as CommandModule)
      .command(inspectCommand as unknown as CommandModule)
      .command(quantizeCommand as unknown as CommandModule)
      .command(codebookCommand as unknown as CommandModule)
      .demandCommand(1),
  handler: () => undefined,
};
