/** What tests need to speak as the CLI: the parameter names it installs at startup, its extract command line. */
import { flagFor } from '../../src/commands/flags';
import { useParamNames } from '../../src/util/params';

/** Runs `fn` with the names the CLI installs at startup: library messages then name flags, as a CLI user sees. */
export function asCli<T>(fn: () => T): T {
  useParamNames(flagFor);
  try {
    return fn();
  } finally {
    useParamNames();
  }
}

/** `convfeat extract` with the real ResNet50 over `data` into `cache`, then `extra` (arguments after the CLI path). */
export function extractArgs(data: string, cache: string, ...extra: string[]): string[] {
  return ['extract', '--model', 'resnet50', '--data', data, '--cache', cache, ...extra];
}
