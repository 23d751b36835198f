/** Options shared by every command that runs a backbone: model, layer, preprocessing, device, threads. */
import type { Argv } from 'yargs';
import { integerInRange, oneOf } from '../util/validate';
import type { ExifMode } from '../preprocess/spec';
import { parsePrecision, type Precision } from '../backbone/quantize/variant';

/** --precision for every command that runs a backbone; unset means fp32, or what a classifier was trained with. */
export const PRECISION_OPTION = {
  type: 'string',
  describe: 'fp32 (default; reproduces PyTorch) or int8 (about 3x faster on CPU, see convfeat models quantize)',
} as const;

export interface BackboneArgs {
  model: string;
  layer?: string;
  preprocess?: string;
  device: string;
  threads?: number;
  exif: ExifMode;
  'max-pixels'?: number;
  precision?: Precision;
}

export function withBackboneOptions<T>(y: Argv<T>, opts: { modelRequired: boolean }): Argv<T & BackboneArgs> {
  return y
    .option('model', {
      type: 'string',
      demandOption: opts.modelRequired,
      describe: 'A known model (convfeat models list) or an ONNX image classifier file',
    })
    .option('layer', {
      type: 'string',
      describe: 'Cut at this node or tensor (default: input of the last fully connected layer)',
    })
    .option('preprocess', {
      type: 'string',
      describe: 'For your own .onnx: torchvision (default), caffe, or a JSON preprocessing spec file',
    })
    .option('precision', PRECISION_OPTION)
    .option('device', {
      type: 'string',
      default: 'auto',
      describe: 'auto, cpu, cuda or cuda:N (auto falls back to CPU)',
    })
    .option('threads', { type: 'number', describe: 'onnxruntime intra-op threads (default: one per core)' })
    .option('exif', {
      choices: ['apply', 'ignore'] as const,
      default: 'apply' as ExifMode,
      describe: 'Apply EXIF orientation (ignore = torchvision parity)',
    })
    .option('max-pixels', {
      type: 'number',
      describe: 'Refuse images above this many pixels (decompression bombs); default 100 million',
    }) as unknown as Argv<T & BackboneArgs>;
}

export function checkBackboneArgs(args: BackboneArgs): void {
  if (args.threads !== undefined) integerInRange('--threads', args.threads, 1, 1024);
  if (args['max-pixels'] !== undefined) integerInRange('--max-pixels', args['max-pixels'], 1, 2 ** 40);
  oneOf('--exif', args.exif, ['apply', 'ignore'] as const);
  if (args.precision !== undefined) parsePrecision(args.precision);
}
