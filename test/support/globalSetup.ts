/**
 * Jest globalSetup: fetch and convert the real ResNet50 once, before any test file runs, so parallel workers that
 * need it do not race to download and convert the same 100 MB model. A failure (e.g. no network) is reported here
 * and not thrown: tests that need the model call realResnet50() themselves and fail with the store's sentence,
 * while every other test still runs.
 */
import { execFileSync } from 'child_process';
import * as path from 'path';
import { describeError } from '../../src/util/errors';
import { REPO_ROOT } from './data';
import { cutterSources, dropStaleCuts, sourceHash } from './generated';
import { realResnet50, realResnet50Keras, STORE_DIR } from './model';

export default async function globalSetup(): Promise<void> {
  // CLI tests and worker threads run the compiled dist/: build it from the current sources so they never test
  // stale code (npm ci builds it once through `prepare`; a developer's edits since then would be missed). The
  // WebAssembly kernel first: src/preprocess/wasmKernel.generated.ts is its output, imported by src/ and dist/.
  execFileSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'build-wasm.mjs')], {
    cwd: REPO_ROOT,
    stdio: 'inherit',
  });
  execFileSync(
    process.execPath,
    [path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: REPO_ROOT,
      stdio: 'inherit',
    },
  );
  // Cut graphs are keyed on the source model file, not on the cutter: drop them when the cutter's code changed.
  if (dropStaleCuts(path.join(STORE_DIR, 'cut'), sourceHash(cutterSources())))
    process.stderr.write(
      '[convfeat test setup] the cutter changed since onnx/cut/ was written: its cuts are made again\n',
    );
  try {
    await realResnet50();
    await realResnet50Keras();
  } catch (e) {
    process.stderr.write(`[convfeat test setup] the real ResNet50 is not available: ${describeError(e)}\n`);
  }
}
