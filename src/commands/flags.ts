/**
 * The CLI's side of util/params: library messages name API options (`batchSize`), and the CLI shows the flag its
 * user typed. Most flags are the kebab-case of the option; the exceptions are listed here.
 */
import { kebabFlag, useParamNames } from '../util/params';

/** API option → CLI flag where the flag is not simply the option in kebab case. */
export const FLAG_EXCEPTIONS: Readonly<Record<string, string>> = {
  /** Every command's --cache is the library's cacheDir (extract, merge's target, fit, evaluate, audit, similar). */
  cacheDir: '--cache',
  /** The folder audit and evaluate write their pages into. */
  reportDir: '--report',
  /** fit-linear and evaluate read the leave-out list from a file (the library takes the set as `exclude`). */
  excludeFile: '--exclude',
  /** kebab-case would make it --c; the flag keeps LIBLINEAR's capital. */
  C: '--C',
  maxFileMB: '--max-file-size',
  /** fit-linear's --val / --no-val is the library's useVal. */
  useVal: '--val',
};

export function flagFor(apiName: string): string {
  return FLAG_EXCEPTIONS[apiName] ?? kebabFlag(apiName);
}

/** Called once by cli.ts before any command runs. */
export function useCliParamNames(): void {
  useParamNames(flagFor);
}
