#!/usr/bin/env node
/** The yargs root: registers commands, nothing else. */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { commands } from './commands';
import { getInterruptNote } from './commands/run';
import { reexecWithCudaLibraries } from './backbone/runtime/gpu/reexec';
import { unknownFlags, withHelp } from './commands/help';
import { isConvfeatError } from './util/errors';
import { useCliParamNames } from './commands/flags';

/** yargs reads a lone `-` as a positional; `--out -` (stdout) is what users type, so bind it to its option. */
export function bindDashValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--') && !a.includes('=') && argv[i + 1] === '-') {
      out.push(`${a}=-`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** `convfeat help extract` → `convfeat extract --help` (yargs alone answered "Did you mean demo?"). */
export function helpAsFlag(argv: string[]): string[] {
  return argv[0] === 'help' ? [...argv.slice(1), '--help'] : argv;
}

/** Replaces yargs' "Unknown argument: solvr" (or the "Missing required argument" a typo causes) by the nearest flag. */
function withFlagSuggestion(msg: string, argv: string[], y: unknown): string {
  if (!/^(Unknown arguments?|Missing required arguments?):/.test(msg ?? '')) return msg;
  let known: string[] = [];
  try {
    const opts = (
      y as { getOptions(): { key: Record<string, unknown>; alias: Record<string, string[]> } }
    ).getOptions();
    known = [...Object.keys(opts.key ?? {}), ...Object.values(opts.alias ?? {}).flat()];
  } catch {
    return msg;
  }
  const typos = unknownFlags(argv, known);
  if (typos.length === 0) return msg;
  return typos
    .map((t) =>
      t.suggestion
        ? `Unknown option --${t.typed}; did you mean --${t.suggestion}?`
        : `Unknown option --${t.typed}; run with --help to see the options.`,
    )
    .join('\n');
}

async function main(): Promise<void> {
  // Library messages name API options; this process speaks to a CLI user, who typed flags.
  useCliParamNames();
  // CUDA libraries found outside the loader's path need a restart with LD_LIBRARY_PATH set (backbone/runtime/gpu/reexec.ts).
  const childCode = await reexecWithCudaLibraries((line) => process.stderr.write(`${line}\n`));
  if (childCode !== null) {
    process.exitCode = childCode;
    return;
  }
  // `convfeat predict ... --out - | head` closes the pipe early; that is not an error. Other write errors
  // (a full disk) are one line, not a stack trace.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    process.stderr.write(`convfeat: cannot write the output (${e.code ?? e.message}).\n`);
    process.exit(1);
  });
  // Ctrl-C or a termination request: exit through process.exit so that 'exit' hooks run (cache locks are released,
  // temporary caches removed). Handlers run between batches: a batch being stored is always stored whole.
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nconvfeat: interrupted (${signal}); ${getInterruptNote()}.\n`);
      process.exit(code);
    });
  }
  const argv = helpAsFlag(bindDashValues(hideBin(process.argv)));
  const parser = yargs(argv)
    .scriptName('convfeat')
    .usage('$0 <command> [options]\n\nTransfer learning with a frozen ImageNet ConvNet as a fixed feature extractor.')
    .strict()
    .demandCommand(1, 'Name a command; `convfeat --help` lists them.')
    .recommendCommands()
    .wrap(Math.min(120, process.stdout.columns || 100))
    .fail((msg, err) => {
      // A refusal thrown while parsing (an option's coerce) is bad usage too: its sentence, exit code 2.
      if (err && isConvfeatError(err)) {
        process.stderr.write(`convfeat: ${err.message}\n`);
        process.exit(err.exitCode);
      }
      if (err) throw err;
      // The parser instance holds the options of the command being parsed when a command's validation fails.
      msg = withFlagSuggestion(msg, argv, parser);
      // Returning would let yargs run the command anyway; bad usage stops here with exit code 2.
      process.stderr.write(`convfeat: ${msg}\nRun with --help for usage.\n`);
      process.exit(2);
    })
    .help()
    .alias('h', 'help')
    .version();
  for (const command of commands) parser.command(withHelp(command));
  // Listed in --help; `convfeat help X` is rewritten to `convfeat X --help` before parsing (helpAsFlag).
  parser.command('help [command..]', 'Show the help of a command, e.g. convfeat help extract', () => undefined);
  await parser.parseAsync();
}

main().catch((e: unknown) => {
  process.stderr.write(`convfeat: ${e instanceof Error ? e.message : String(e)}\n`);
  // yargs rethrows what an option's coerce threw as a YError with the same sentence: bad usage, exit code 2.
  process.exitCode = isConvfeatError(e) ? e.exitCode : e instanceof Error && e.name === 'YError' ? 2 : 1;
});
