/** Reading a small text file that may be absent (sidecars, stamps) without turning ENOENT into an error. */
import * as fs from 'fs';
import { ConvfeatError } from './errors';

/** A text file's contents, or undefined when it does not exist; any other read error is one clear sentence. */
export function readTextIfExists(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new ConvfeatError(`Cannot read ${file} (${code ?? 'error'}).`);
  }
}
