/**
 * The CLI's side of util/params: library messages name API options (`batchSize`), and the CLI shows the flag its
 * user typed. Most flags are the kebab-case of the option; the exceptions are listed here.
 */
import { kebabFlag, useParamNames } from '../util/params';

/** API option → CLI flag where the flag is not simply the option in kebab case. */
export const FLAG_EXCEPTIONS: Readonly<Record<string, string>> = {
  maxFileMB: '--max-file-size',
};

export function flagFor(apiName: string): string {
  return FLAG_EXCEPTIONS[apiName] ?? kebabFlag(apiName);
}

/** Called once by cli.ts before any command runs. */
export function useCliParamNames(): void {
  useParamNames(flagFor);
}
