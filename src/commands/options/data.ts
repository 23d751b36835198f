/**
 * The options of commands that read a dataset and push it through a backbone: how --data is organised (layout) and
 * how the work is batched (batch-size, workers, max-file-size). Parsers return the library's option names.
 */
import type { Argv } from 'yargs';
import type { LayoutOption } from '../../dataset';
import { integerInRange } from '../../util/validate';
import { addOptions } from './define';

export const LAYOUTS = ['auto', 'imagefolder', 'imagefolder-splits', 'unlabelled'] as const;

export interface LayoutArgs {
  layout: LayoutOption;
}

/** --layout (default auto). */
export function withLayoutOption<T>(y: Argv<T>): Argv<T & LayoutArgs> {
  return addOptions<T, LayoutArgs>(y, { layout: { choices: LAYOUTS, default: 'auto' as LayoutOption } });
}

export interface BatchArgs {
  'batch-size'?: number;
  workers?: number;
}

/**
 * --batch-size and --workers. `batchSize` is a fixed default (predict); without one the library's default applies
 * (extract: 8 on CPU, 64 on CUDA, known once the backbone is open).
 */
export function withBatchOptions<T>(y: Argv<T>, block: { batchSize?: number } = {}): Argv<T & BatchArgs> {
  return addOptions<T, BatchArgs>(y, {
    'batch-size': block.batchSize === undefined ? { type: 'number' } : { type: 'number', default: block.batchSize },
    workers: { type: 'number' },
  });
}

/** --batch-size (1…1024) and --workers (0…64) validated, in the library's names; absent stays absent. */
export function batchChoice(args: BatchArgs): { batchSize?: number; workers?: number } {
  const batchSize =
    args['batch-size'] === undefined ? undefined : integerInRange('--batch-size', args['batch-size'], 1, 1024);
  const workers = args.workers === undefined ? undefined : integerInRange('--workers', args.workers, 0, 64);
  return { ...(batchSize !== undefined ? { batchSize } : {}), ...(workers !== undefined ? { workers } : {}) };
}

export interface FileSizeArgs {
  'max-file-size'?: number;
}

/** --max-file-size: files over it are refused before they are read. */
export function withFileSizeOption<T>(y: Argv<T>): Argv<T & FileSizeArgs> {
  return addOptions<T, FileSizeArgs>(y, {
    'max-file-size': { type: 'number', describe: 'Refuse files over this many MB before reading them (default 256)' },
  });
}

export function fileSizeChoice(args: FileSizeArgs): { maxFileMB?: number } {
  return args['max-file-size'] !== undefined ? { maxFileMB: args['max-file-size'] } : {};
}
