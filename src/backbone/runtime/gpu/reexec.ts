/**
 * The dynamic loader reads LD_LIBRARY_PATH once, when the process starts, so CUDA libraries that `gpu check` finds
 * outside the loader's path (a Python env's nvidia/*\/lib, /usr/local/cuda*\/lib64) cannot be added from inside a
 * running process. The CLI instead runs itself again, once, with those folders prepended; CONVFEAT_GPU_REEXEC marks
 * the child so it never re-executes again.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { diagnoseGpu } from './check';
import { CUDA_PROVIDER_FILE, ortRuntime } from './runtime';

export const REEXEC_MARK = 'CONVFEAT_GPU_REEXEC';
/** Commands that open a backbone session and take --device (default auto). */
const DEVICE_COMMANDS = new Set(['extract', 'predict', 'demo']);

/** The --device value in argv, or 'auto' when absent. */
export function deviceArgument(argv: readonly string[]): string {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--device') return argv[i + 1] ?? 'auto';
    if (a.startsWith('--device=')) return a.slice('--device='.length);
  }
  return 'auto';
}

/**
 * The LD_LIBRARY_PATH a re-executed CLI needs, or null when it should just go on: another command, --device cpu,
 * already re-executed, no provider installed, or nothing found outside the loader's path.
 */
export function reexecLibraryPath(args: readonly string[], env: NodeJS.ProcessEnv = process.env): string | null {
  if (env[REEXEC_MARK] || process.platform !== 'linux') return null;
  const command = args.find((a) => !a.startsWith('-'));
  if (command === undefined || !DEVICE_COMMANDS.has(command)) return null;
  if (deviceArgument(args) === 'cpu' || args.includes('--help') || args.includes('-h')) return null;
  let binDir: string;
  try {
    binDir = ortRuntime().binDir;
  } catch {
    return null;
  }
  if (!fs.existsSync(path.join(binDir, CUDA_PROVIDER_FILE))) return null;
  const d = diagnoseGpu({ env });
  if (!d.provider.installed || !d.driver.libcuda || d.libraryPath.length === 0) return null;
  return [...d.libraryPath, ...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean)].join(path.delimiter);
}

/**
 * Runs this CLI again with the CUDA libraries on the loader's path when they need adding; resolves to the child's
 * exit code, or null when this process should carry on itself.
 */
export async function reexecWithCudaLibraries(log: (line: string) => void): Promise<number | null> {
  const args = process.argv.slice(2);
  const libraryPath = reexecLibraryPath(args);
  if (libraryPath === null) return null;
  log(
    `convfeat: adding the CUDA libraries' folders to LD_LIBRARY_PATH and starting again (see \`convfeat gpu check\`).`,
  );
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, LD_LIBRARY_PATH: libraryPath, [REEXEC_MARK]: '1' },
  });
  // Ctrl-C reaches the child through the terminal's process group; a signal sent to this pid alone is passed on.
  const forward = (signal: NodeJS.Signals): void => void child.kill(signal);
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', forward);
  process.on('SIGHUP', forward);
  return new Promise((resolve) => {
    child.on('error', () => resolve(null));
    child.on('exit', (code, signal) => {
      if (code !== null) return resolve(code);
      if (signal !== 'SIGINT' && signal !== 'SIGTERM')
        log(
          `convfeat: the restarted process was killed by ${signal ?? 'a signal'}; run with --device cpu to avoid CUDA.`,
        );
      resolve(signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 1);
    });
  });
}
