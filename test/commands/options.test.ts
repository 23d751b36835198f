/**
 * The shared option blocks: declared once, parsed into the library's option names, validated with one sentence that
 * names the flag; and the help table gives each command its own words without the blocks changing --help.
 */
import yargs, { type Argv } from 'yargs';
import {
  backboneChoice,
  batchChoice,
  deviceChoice,
  fileSizeChoice,
  modelChoice,
  solverChoice,
  withBackboneOptions,
  withBatchOptions,
  withClassifierOption,
  withDeviceOptions,
  withFileSizeOption,
  withLayoutOption,
  withModelOptions,
  withSolverOptions,
} from '../../src/commands/options';
import { UsageError } from '../../src/util/errors';

/** Parses argv with the options a builder declares; strict, so an option a block left out is refused. */
function parse<A>(build: (y: Argv) => Argv<A>, argv: string[]): A {
  let failure: string | undefined;
  const parsed = build(
    yargs(argv)
      .strict()
      .exitProcess(false)
      .fail((msg) => (failure = msg)),
  ).parseSync();
  if (failure) throw new Error(failure);
  return parsed as A;
}

/** Option names a builder declares, in declaration order (the order --help lists them). */
function declared(build: (y: Argv) => Argv): string[] {
  const y = build(yargs([]));
  const keys = (y as unknown as { getOptions(): { key: Record<string, unknown> } }).getOptions().key;
  return Object.keys(keys).filter((k) => k !== 'help' && k !== 'version');
}

describe('model, device and image blocks', () => {
  test('declared in the order extract has always listed them', () => {
    expect(declared((y) => withBackboneOptions(y, { modelRequired: true }))).toEqual([
      'model',
      'layer',
      'preprocess',
      'precision',
      'device',
      'threads',
      'exif',
      'max-pixels',
    ]);
  });

  test('a command leaves out what it does not take (demo: no --layer; similar: no --precision, no --threads)', () => {
    expect(declared((y) => withModelOptions(y, { layer: false, preprocess: false }))).toEqual(['model', 'precision']);
    expect(declared((y) => withDeviceOptions(withModelOptions(y, { precision: false }), { threads: false }))).toEqual([
      'model',
      'layer',
      'preprocess',
      'device',
    ]);
    // models quantize MODEL: the model is positional and calibration runs on the CPU.
    expect(
      declared((y) => withDeviceOptions(withModelOptions(y, { model: false, precision: false }), { device: false })),
    ).toEqual(['layer', 'preprocess', 'threads']);
    expect(() => parse((y) => withModelOptions(y, { precision: false }), ['--precision', 'int8'])).toThrow(
      /Unknown argument/,
    );
  });

  test('parsed into prepareBackbone/openBackbone options; absent options stay absent', () => {
    const args = parse(
      (y) => withBackboneOptions(y, { modelRequired: true }),
      ['--model', 'resnet50', '--precision', 'int8', '--threads', '2', '--exif', 'ignore', '--max-pixels', '1000'],
    );
    expect(backboneChoice(args)).toEqual({
      model: { model: 'resnet50', precision: 'int8' },
      device: { device: 'auto', threads: 2 },
      image: { exif: 'ignore', maxPixels: 1000 },
    });
    const plain = parse((y) => withModelOptions(withDeviceOptions(y), { model: { default: 'resnet50' } }), []);
    expect(modelChoice(plain)).toEqual({ model: 'resnet50' });
    expect(deviceChoice(plain)).toEqual({ device: 'auto' });
  });

  test('--model required where the block says so', () => {
    expect(() => parse((y) => withModelOptions(y, { model: { required: true } }), [])).toThrow(/model/);
  });

  test('bad values: one sentence naming the flag, checked in the order the CLI always used', () => {
    const args = parse(
      (y) => withBackboneOptions(y, { modelRequired: false }),
      ['--threads', '0', '--max-pixels', '-1', '--precision', 'fp16'],
    );
    expect(() => backboneChoice(args)).toThrow(UsageError);
    expect(() => backboneChoice(args)).toThrow(/--threads.*integer between 1 and 1024/);
    expect(() => backboneChoice({ ...args, threads: 2 })).toThrow(/--max-pixels/);
    expect(() => backboneChoice({ ...args, threads: 2, 'max-pixels': 5 })).toThrow(/fp16/);
  });
});

describe('layout, batch and file-size blocks', () => {
  test('a fixed --batch-size default where the command has one (predict), none otherwise (extract)', () => {
    expect(batchChoice(parse((y) => withBatchOptions(y, { batchSize: 8 }), []))).toEqual({ batchSize: 8 });
    expect(batchChoice(parse((y) => withBatchOptions(y), []))).toEqual({});
    expect(batchChoice(parse((y) => withBatchOptions(y), ['--batch-size', '16', '--workers', '0']))).toEqual({
      batchSize: 16,
      workers: 0,
    });
    expect(() => batchChoice({ 'batch-size': 2000 })).toThrow(/--batch-size/);
    expect(() => batchChoice({ workers: 1.5 })).toThrow(/--workers/);
  });

  test('--layout choices and default; --max-file-size in the library name', () => {
    expect(parse((y) => withLayoutOption(y), []).layout).toBe('auto');
    expect(() => parse((y) => withLayoutOption(y), ['--layout', 'flat'])).toThrow(/Invalid values/);
    expect(fileSizeChoice(parse((y) => withFileSizeOption(y), ['--max-file-size', '3']))).toEqual({ maxFileMB: 3 });
    expect(fileSizeChoice(parse((y) => withFileSizeOption(y), []))).toEqual({});
  });
});

describe('classifier and solver blocks', () => {
  test('--classifier required unless the command can fit one itself', () => {
    expect(() => parse((y) => withClassifierOption(y), [])).toThrow(/classifier/);
    expect(parse((y) => withClassifierOption(y, { required: false }), []).classifier).toBeUndefined();
  });

  test('the library defaults: svm, no scaling, C chosen; --C must be positive', () => {
    const args = parse((y) => withSolverOptions(y), []);
    expect(solverChoice(args)).toEqual({ solver: 'svm', scale: 'none' });
    expect(solverChoice(parse((y) => withSolverOptions(y), ['--solver', 'softmax', '--C', '0.5']))).toEqual({
      solver: 'softmax',
      scale: 'none',
      C: 0.5,
    });
    expect(() => solverChoice({ ...args, C: -1 })).toThrow(/--C/);
    expect(() => parse((y) => withSolverOptions(y), ['--scale', 'minmax'])).toThrow(/Invalid values/);
  });
});
