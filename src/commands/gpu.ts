/** `convfeat gpu install | check`: put ONNX Runtime's CUDA provider in place without NuGet, and say what is missing. */
import type { Argv, CommandModule } from 'yargs';
import { diagnoseGpu, formatDiagnosis } from '../backbone/runtime/gpu/check';
import { installCudaProvider } from '../backbone/runtime/gpu/install';
import { NPM_CUDA_PROVIDER } from '../backbone/runtime/gpu/runtime';
import { formatBytes } from '../backbone/store/download';
import { handler, logger, printJson } from './run';

interface InstallArgs {
  from?: string;
  integrity?: string;
  tensorrt?: boolean;
  'download-dir'?: string;
  json?: boolean;
  quiet?: boolean;
}
interface CheckArgs {
  json?: boolean;
}

const installCommand: CommandModule<object, InstallArgs> = {
  command: 'install',
  describe: `Download ONNX Runtime ${NPM_CUDA_PROVIDER.onnxruntime}'s CUDA provider from the npm registry (${formatBytes(NPM_CUDA_PROVIDER.bytes)}, resumable) and place it beside onnxruntime-node`,
  builder: (y: Argv) =>
    y
      .option('from', {
        type: 'string',
        describe: `A tarball URL or file instead of ${NPM_CUDA_PROVIDER.package}@${NPM_CUDA_PROVIDER.version} from the registry`,
      })
      .option('integrity', {
        type: 'string',
        describe: "The tarball's sha512-… integrity (default: the pinned package's)",
      })
      .option('tensorrt', { type: 'boolean', describe: 'Also place the TensorRT provider library' })
      .option('download-dir', {
        type: 'string',
        describe: 'Where the download (and an interrupted one) is kept; default ~/.cache/convfeat/gpu',
      })
      .option('json', { type: 'boolean', describe: 'Print what was installed as JSON' })
      .option('quiet', { type: 'boolean', describe: 'No progress lines' }) as unknown as Argv<InstallArgs>,
  handler: handler(async (args: InstallArgs) => {
    const log = logger({ quiet: Boolean(args.quiet || args.json) });
    const result = await installCudaProvider({
      ...(args.from !== undefined ? { from: args.from } : {}),
      ...(args.integrity !== undefined ? { integrity: args.integrity } : {}),
      ...(args['download-dir'] !== undefined ? { downloadDir: args['download-dir'] } : {}),
      tensorrt: Boolean(args.tensorrt),
      log,
    });
    if (args.json) return printJson({ ...result.manifest, manifestFile: result.manifestFile });
    const m = result.manifest;
    process.stdout.write(
      `Installed the CUDA provider of ONNX Runtime ${m.onnxruntime} (CUDA ${m.cuda ?? '?'}, ${m.files.length} libraries) in ${result.binDir}; recorded in ${result.manifestFile}.\n` +
        'Next: `npx convfeat gpu check` says whether the driver and CUDA libraries are in place.\n',
    );
  }),
};

const checkCommand: CommandModule<object, CheckArgs> = {
  command: 'check',
  describe: 'Diagnose the CUDA path: provider, NVIDIA driver, every library the provider needs (exit 1 if not ready)',
  builder: (y: Argv) =>
    y.option('json', { type: 'boolean', describe: 'Print the diagnosis as JSON' }) as unknown as Argv<CheckArgs>,
  handler: handler(async (args: CheckArgs) => {
    const d = diagnoseGpu();
    if (args.json) printJson(d);
    else process.stdout.write(`${formatDiagnosis(d)}\n`);
    if (!d.ready) process.exitCode = 1;
  }),
};

export const gpuCommand: CommandModule = {
  command: 'gpu <command>',
  describe: 'The CUDA execution provider: install it (npm registry, no NuGet) and check what it needs',
  builder: (y: Argv) =>
    y
      .command(installCommand as unknown as CommandModule)
      .command(checkCommand as unknown as CommandModule)
      .demandCommand(1, 'Name a gpu command: install or check.'),
  handler: () => undefined,
};
