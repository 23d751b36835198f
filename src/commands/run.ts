/**
 * Shared plumbing for command handlers: turn thrown values into one line on stderr and the right exit code
 * (0 ok, 1 failure, 2 bad usage), and print JSON or text.
 */
import { isConvfeatError } from '../util/errors';
import { translateFsError } from '../util/fsErrors';

/**
 * What an interruption (Ctrl-C, SIGTERM) means for the running command, printed by the CLI's signal handler.
 * Each command says what it leaves: extract keeps stored batches (resumable), fit-linear writes nothing, etc.
 */
const RESUMABLE = 'work stored so far is kept, rerun to resume';
let interruptNote = 'it stopped before finishing; rerun the command';

export function setInterruptNote(note: 'resumable' | 'nothing-written' | string): void {
  interruptNote =
    note === 'resumable'
      ? RESUMABLE
      : note === 'nothing-written'
        ? 'nothing was written and earlier outputs are untouched; rerun the command'
        : note;
}

export function getInterruptNote(): string {
  return interruptNote;
}

export interface CommonArgs {
  json?: boolean;
  quiet?: boolean;
}

export function reportFailure(e: unknown): number {
  // A full disk, a read-only folder, a file where a folder is expected: ordinary conditions, not bugs.
  const translated = isConvfeatError(e) ? e : translateFsError(e);
  if (translated) e = translated;
  if (isConvfeatError(e)) {
    process.stderr.write(`convfeat: ${e.message}\n`);
    return e.exitCode;
  }
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`convfeat: unexpected error: ${message}\n`);
  if (process.env.CONVFEAT_DEBUG && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  else process.stderr.write('convfeat: this is a bug; rerun with CONVFEAT_DEBUG=1 for details and report it.\n');
  return 1;
}

/** Wraps an async handler so failures set process.exitCode instead of escaping as a stack trace. */
export function handler<A>(fn: (args: A) => Promise<void> | void): (args: A) => Promise<void> {
  return async (args: A) => {
    try {
      await fn(args);
    } catch (e) {
      process.exitCode = reportFailure(e);
    }
  };
}

/**
 * Version of the objects every `--json` prints (docs/formats.md). It changes when a field is renamed or removed or
 * its meaning changes; new fields can appear without a change.
 */
export const JSON_FORMAT_VERSION = 1;

export function printJson(value: unknown): void {
  const versioned =
    value !== null && typeof value === 'object' && !Array.isArray(value) && !('formatVersion' in value)
      ? { formatVersion: JSON_FORMAT_VERSION, ...value }
      : value;
  process.stdout.write(`${JSON.stringify(versioned, null, 2)}\n`);
}

/**
 * The human summary of a successful run (stdout). --quiet silences it as it silences progress: a quiet run that
 * succeeds prints nothing; --json still prints its JSON, and errors always print.
 */
export function say(args: CommonArgs, text: string): void {
  if (args.quiet && !args.json) return;
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** Diagnostics go to stderr so that stdout stays clean for --json and for `-` outputs. */
export function logger(args: CommonArgs): (line: string) => void {
  return args.quiet ? () => undefined : (line: string) => process.stderr.write(`${line}\n`);
}
