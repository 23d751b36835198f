/** `convfeat export`: one deployable ONNX file — normalisation, frozen backbone, scaler, linear head, softmax. */
import type { Argv, CommandModule } from 'yargs';
import { loadClassifier } from '../linear';
import { exportClassifier } from '../deploy/exportClassifier';
import { handler, logger, printJson, say, setInterruptNote } from './run';
import { modelChoice, withModelOptions, type ModelArgs } from './options';

interface ExportArgs extends ModelArgs {
  classifier: string;
  out: string;
  json?: boolean;
  quiet?: boolean;
}

export const exportCommand: CommandModule<object, ExportArgs> = {
  command: 'export',
  describe: 'Write one ONNX model: [N,3,H,W] RGB in [0,1] → class probabilities (class names in its metadata)',
  builder: (y: Argv) =>
    withModelOptions(
      y
        .option('classifier', { type: 'string', demandOption: true })
        .option('out', { type: 'string', demandOption: true, describe: 'Output .onnx file' }),
    )
      .option('json', { type: 'boolean' })
      .option('quiet', { type: 'boolean' }) as unknown as Argv<ExportArgs>,
  handler: handler(async (args: ExportArgs) => {
    setInterruptNote('nothing-written');
    const clf = loadClassifier(args.classifier);
    const result = await exportClassifier(clf, {
      out: args.out,
      ...modelChoice(args),
      log: logger(args),
    });
    const summary = {
      out: result.file,
      bytes: result.bytes,
      input: result.inputShape,
      classes: result.classes,
      backbone: result.backbone,
    };
    if (args.json) printJson(summary);
    else
      say(
        args,
        `wrote ${result.file} (${(result.bytes / 1e6).toFixed(1)} MB): input image [${result.inputShape.join(', ')}] RGB in [0,1], output probabilities over ${result.classes.length} classes\n`,
      );
  }),
};
