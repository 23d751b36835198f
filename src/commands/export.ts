/** `convfeat export`: one deployable ONNX file — normalisation, frozen backbone, scaler, linear head, softmax. */
import * as fs from 'fs';
import * as path from 'path';
import type { Argv, CommandModule } from 'yargs';
import { decodeModel } from '../backbone/graph/proto';
import { loadClassifier } from '../linear';
import { exportFusedOnnx } from '../deploy/fusedExport';
import { backboneForClassifier } from '../deploy/predict';
import { removeDeadTemps } from '../util/atomic';
import { ensureParentDir } from '../util/dirs';
import { UsageError } from '../util/errors';
import { handler, logger, printJson, say, setInterruptNote } from './run';
import { PRECISION_OPTION } from './backboneOptions';
import { parsePrecision } from '../backbone/quantize/variant';

interface ExportArgs {
  classifier: string;
  out: string;
  model?: string;
  layer?: string;
  preprocess?: string;
  precision?: string;
  json?: boolean;
  quiet?: boolean;
}

export const exportCommand: CommandModule<object, ExportArgs> = {
  command: 'export',
  describe: 'Write one ONNX model: [N,3,H,W] RGB in [0,1] → class probabilities (class names in its metadata)',
  builder: (y: Argv) =>
    y
      .option('classifier', { type: 'string', demandOption: true })
      .option('out', { type: 'string', demandOption: true, describe: 'Output .onnx file' })
      .option('model', {
        type: 'string',
        describe: 'The backbone .onnx file, when the classifier was trained on your own model',
      })
      .option('layer', { type: 'string' })
      .option('preprocess', { type: 'string' })
      .option('precision', PRECISION_OPTION)
      .option('json', { type: 'boolean' })
      .option('quiet', { type: 'boolean' }) as unknown as Argv<ExportArgs>,
  handler: handler(async (args: ExportArgs) => {
    setInterruptNote('nothing-written');
    const clf = loadClassifier(args.classifier);
    if (fs.statSync(args.out, { throwIfNoEntry: false })?.isDirectory())
      throw new UsageError(
        `--out ${args.out} is a folder; give a file name such as ${path.join(args.out, 'model.onnx')}.`,
      );
    ensureParentDir(args.out, `--out ${args.out}`);
    removeDeadTemps(args.out); // a killed export leaves a temp as large as the model
    const { prepared } = await backboneForClassifier(clf, {
      model: args.model,
      layer: args.layer,
      preprocess: args.preprocess,
      ...(args.precision !== undefined ? { precision: parsePrecision(args.precision) } : {}),
      log: logger(args),
    });
    const result = exportFusedOnnx({
      backboneModel: decodeModel(prepared.cutBytes(), prepared.name),
      spec: prepared.spec,
      classifier: clf,
      backboneFingerprint: prepared.fingerprint,
      out: args.out,
    });
    const summary = {
      out: result.file,
      bytes: result.bytes,
      input: result.inputShape,
      classes: result.classes,
      backbone: prepared.name,
    };
    if (args.json) printJson(summary);
    else
      say(
        args,
        `wrote ${result.file} (${(result.bytes / 1e6).toFixed(1)} MB): input image [${result.inputShape.join(', ')}] RGB in [0,1], output probabilities over ${result.classes.length} classes\n`,
      );
  }),
};
