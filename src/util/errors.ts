/**
 * Errors are values the user can act on. A ConvfeatError carries one sentence that says what went wrong and what to
 * do, and the process exit code the CLI should use: 1 for a failure, 2 for bad usage.
 */
export type ExitCode = 1 | 2;

export class ConvfeatError extends Error {
  readonly exitCode: ExitCode;
  constructor(message: string, exitCode: ExitCode = 1, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConvfeatError';
    this.exitCode = exitCode;
  }
}

/** Bad usage: a parameter out of range, an unknown name, a missing input. Exit code 2. */
export class UsageError extends ConvfeatError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 2, options);
    this.name = 'UsageError';
  }
}

export function isConvfeatError(e: unknown): e is ConvfeatError {
  return e instanceof ConvfeatError;
}

/** A short, single-line description of any thrown value, for "skipped: <reason>" lines. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message.split('\n')[0] ?? String(e);
  return String(e);
}
