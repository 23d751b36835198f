/**
 * The options of every command that runs a backbone: which model (model, layer, preprocess, precision), where it runs
 * (device, threads) and how images are decoded (exif, max-pixels). Each block has its parser, which validates the
 * values and returns them as the library's options (prepareBackbone, openBackbone, preprocess), so a command passes
 * them on without renaming a field.
 */
import type { Argv, Options } from 'yargs';
import { parsePrecision, type Precision } from '../../backbone/quantize/variant';
import type { ExifMode } from '../../preprocess/spec';
import { integerInRange, oneOf } from '../../util/validate';
import { addOptions, tuned } from './define';

/** --precision for every command that runs a backbone; unset means fp32, or what a classifier was trained with. */
export const PRECISION_OPTION = {
  type: 'string',
  describe: 'fp32 (default; reproduces PyTorch) or int8 (about 3x faster on CPU, see convfeat models quantize)',
} as const;

export interface ModelArgs {
  model?: string;
  layer?: string;
  preprocess?: string;
  precision?: string;
}

export interface ModelBlock {
  /**
   * --model must be given (extract, preprocess); the demo names a default instead; false where the model is a
   * positional argument (models quantize MODEL).
   */
  model?: { required?: boolean; default?: string } | false;
  /** false: the command does not take the option (the demo has no --layer; similar has no --precision). */
  layer?: boolean;
  preprocess?: boolean;
  precision?: boolean;
}

/** --model --layer --preprocess --precision, in that order. */
export function withModelOptions<T>(y: Argv<T>, block: ModelBlock = {}): Argv<T & ModelArgs> {
  const model: Options = { type: 'string' };
  if (block.model && block.model.required) model.demandOption = true;
  if (block.model && block.model.default !== undefined) model.default = block.model.default;
  return addOptions<T, ModelArgs>(y, {
    model: block.model === false ? false : model,
    layer: tuned({ type: 'string' }, block.layer),
    preprocess: tuned({ type: 'string' }, block.preprocess),
    precision: tuned(PRECISION_OPTION, block.precision),
  });
}

/** What prepareBackbone takes from the model block; precision validated. */
export interface ModelChoice<M extends string | undefined = string | undefined> {
  /** Required by extract and preprocess (string); optional where the classifier or cache names the backbone. */
  model: M;
  layer?: string;
  preprocess?: string;
  precision?: Precision;
}

export function modelChoice<A extends ModelArgs>(args: A): ModelChoice<A['model']> {
  return {
    model: args.model,
    ...(args.layer !== undefined ? { layer: args.layer } : {}),
    ...(args.preprocess !== undefined ? { preprocess: args.preprocess } : {}),
    ...(args.precision !== undefined ? { precision: parsePrecision(args.precision) } : {}),
  };
}

export interface DeviceArgs {
  device: string;
  threads?: number;
}

/**
 * --device (default auto) and --threads; `threads: false` for a command that does not take it, `device: false` for
 * one that always runs on the CPU (models quantize calibrates there).
 */
export function withDeviceOptions<T>(
  y: Argv<T>,
  block: { device?: boolean; threads?: boolean } = {},
): Argv<T & DeviceArgs> {
  return addOptions<T, DeviceArgs>(y, {
    device: tuned({ type: 'string', default: 'auto' }, block.device),
    threads: tuned({ type: 'number' }, block.threads),
  });
}

/** What openBackbone takes from the device block; --threads validated (1…1024). */
export function deviceChoice(args: DeviceArgs): { device: string; threads?: number } {
  return {
    device: args.device,
    ...(args.threads !== undefined ? { threads: integerInRange('--threads', args.threads, 1, 1024) } : {}),
  };
}

export interface ImageArgs {
  exif: ExifMode;
  'max-pixels'?: number;
}

/** --exif and --max-pixels: how an image file becomes pixels. */
export function withImageOptions<T>(y: Argv<T>): Argv<T & ImageArgs> {
  return addOptions<T, ImageArgs>(y, {
    exif: {
      choices: ['apply', 'ignore'] as const,
      default: 'apply' as ExifMode,
      describe: 'Apply EXIF orientation (ignore = torchvision parity)',
    },
    'max-pixels': {
      type: 'number',
      describe: 'Refuse images above this many pixels (decompression bombs); default 100 million',
    },
  });
}

/** What decoding takes from the image block; --max-pixels and --exif validated, in that order. */
export function imageChoice(args: ImageArgs): { exif: ExifMode; maxPixels?: number } {
  const maxPixels =
    args['max-pixels'] === undefined ? undefined : integerInRange('--max-pixels', args['max-pixels'], 1, 2 ** 40);
  const exif = oneOf('--exif', args.exif, ['apply', 'ignore'] as const);
  return { exif, ...(maxPixels !== undefined ? { maxPixels } : {}) };
}

/** Everything a command that opens a backbone takes: model, device and image blocks, in that --help order. */
export type BackboneArgs = ModelArgs & DeviceArgs & ImageArgs;

export function withBackboneOptions<T>(y: Argv<T>, opts: { modelRequired: boolean }): Argv<T & BackboneArgs> {
  return withImageOptions(withDeviceOptions(withModelOptions(y, { model: { required: opts.modelRequired } })));
}

/**
 * The three blocks parsed: `model` for prepareBackbone, `device` and `image` for openBackbone. Checked in the order
 * the CLI always checked them (threads, max-pixels, exif, precision), so the first bad value named stays the same.
 */
export function backboneChoice<A extends BackboneArgs>(
  args: A,
): {
  model: ModelChoice<A['model']>;
  device: { device: string; threads?: number };
  image: { exif: ExifMode; maxPixels?: number };
} {
  const device = deviceChoice(args);
  const image = imageChoice(args);
  return { model: modelChoice(args), device, image };
}
