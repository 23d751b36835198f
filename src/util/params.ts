/**
 * How messages name a parameter. The library's doors name the API option a caller wrote (`batchSize`); the CLI names
 * the flag its user typed (`--batch-size`). Code that builds a message writes `param('batchSize')`; the CLI installs
 * its translation once at startup (commands/flags.ts), so one sentence serves both audiences and no library error
 * names a flag a library user never saw.
 */
export type ParamNamer = (apiName: string) => string;

const asWritten: ParamNamer = (apiName) => apiName;
let namer: ParamNamer = asWritten;

/** The name of API option `apiName` as the current audience knows it. */
export function param(apiName: string): string {
  return namer(apiName);
}

/** Installs the CLI's translation (or restores API names with no argument). Process-wide; the CLI calls it once. */
export function useParamNames(fn?: ParamNamer): void {
  namer = fn ?? asWritten;
}

/** `batchSize` → `--batch-size`: the default flag spelling of an API option. */
export function kebabFlag(apiName: string): string {
  return `--${apiName.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}
