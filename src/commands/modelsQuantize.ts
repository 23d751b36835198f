/** `convfeat models quantize MODEL --calibrate DATA`: calibrate activation ranges and write the int8 variant. */
import type { Argv, CommandModule } from 'yargs';
import { calibrateModel, DEFAULT_CALIBRATION_IMAGES } from '../backbone/quantize/calibrateModel';
import type { RangeMethod } from '../backbone/quantize/calibrate';
import { numberInRange, oneOf } from '../util/validate';
import { handler, logger, printJson } from './run';
import { withDeviceOptions, withModelOptions } from './options';

interface QuantizeArgs {
  model: string;
  calibrate: string;
  layer?: string;
  preprocess?: string;
  images: number;
  method: 'percentile' | 'minmax';
  percentile: number;
  threads?: number;
  out?: string;
  json?: boolean;
  quiet?: boolean;
}

export const quantizeCommand: CommandModule<object, QuantizeArgs> = {
  command: 'quantize <model>',
  describe:
    'Calibrate a model on your photos and write its int8 range table and int8 graph (use with --precision int8)',
  builder: (y: Argv) => {
    const model = withModelOptions(
      y
        .positional('model', {
          type: 'string',
          demandOption: true,
          describe: 'A known model or an ONNX classifier file',
        })
        .option('calibrate', { type: 'string', demandOption: true, describe: 'Calibration photos (image folder)' }),
      { model: false, precision: false },
    );
    const calibration = model
      .option('images', { type: 'number', default: DEFAULT_CALIBRATION_IMAGES, describe: 'How many photos' })
      .option('method', { choices: ['percentile', 'minmax'] as const, default: 'percentile' as const })
      .option('percentile', { type: 'number', default: 99.999, describe: 'Kept share of each activation (percent)' });
    return withDeviceOptions(calibration, { device: false })
      .option('out', { type: 'string', describe: 'Range table .json (default: where --precision int8 looks)' })
      .option('json', { type: 'boolean' })
      .option('quiet', { type: 'boolean' }) as unknown as Argv<QuantizeArgs>;
  },
  handler: handler(async (args: QuantizeArgs) => {
    oneOf('--method', args.method, ['percentile', 'minmax'] as const);
    const method: RangeMethod =
      args.method === 'minmax'
        ? { kind: 'minmax' }
        : { kind: 'percentile', percentile: numberInRange('--percentile', args.percentile, 50, 100) };
    const result = await calibrateModel({
      model: args.model,
      data: args.calibrate,
      images: args.images,
      method,
      ...(args.layer !== undefined ? { layer: args.layer } : {}),
      ...(args.preprocess !== undefined ? { preprocess: args.preprocess } : {}),
      ...(args.threads !== undefined ? { threads: args.threads } : {}),
      ...(args.out !== undefined ? { out: args.out } : {}),
      log: logger(args),
    });
    if (args.json) return printJson(result);
    const counts = (c: Record<string, number>) =>
      Object.entries(c)
        .map(([op, n]) => `${op} ×${n}`)
        .join(', ');
    const kept = counts(result.summary.keptFp32);
    const shared = counts(result.summary.sharedScale);
    process.stdout.write(
      [
        `${result.model}: ${result.summary.quantized} nodes quantised to int8 (${result.summary.foldedBatchNorms} BatchNorms${result.summary.foldedPads ? ` and ${result.summary.foldedPads} zero Pads` : ''} folded), ${result.tensors} activation ranges from ${result.images} photos in ${result.calibrationSeconds.toFixed(1)} s; quantisation ${result.quantizationSeconds.toFixed(1)} s`,
        ...(shared ? [`on the int8 values with their input's scale (exact, no requantisation): ${shared}`] : []),
        `not quantised by convfeat (fp32 in the graph; onnxruntime may still fuse them into the int8 kernels around them): ${kept || 'nothing'}`,
        `embedding cosine to fp32 on the calibration photos: mean ${result.cosine.mean.toFixed(4)}, min ${result.cosine.min.toFixed(4)} (the photos it was calibrated on)`,
        `ranges: ${result.table}`,
        `int8 graph: ${result.onnx} (${(result.int8Bytes / 1e6).toFixed(1)} MB, fp32 ${(result.fp32Bytes / 1e6).toFixed(1)} MB, fingerprint ${result.int8Fingerprint})`,
        '',
      ].join('\n'),
    );
  }),
};
