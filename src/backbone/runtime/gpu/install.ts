/**
 * `convfeat gpu install`: puts ONNX Runtime's CUDA provider beside onnxruntime-node's core without NuGet. The
 * provider tarball comes from the npm registry (or a URL or file the user names), through the resumable,
 * integrity-checked downloader; only the provider libraries are extracted; a provider built for another ONNX Runtime
 * release is refused before anything is placed; each library is renamed into place atomically and the manifest
 * records what was installed.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as os from 'os';
import * as path from 'path';
import * as tar from 'tar';
import { ConvfeatError, describeError } from '../../../util/errors';
import { writeFileAtomicSync, commitTempFile, tempSibling } from '../../../util/atomic';
import { sha256File } from '../../../util/hash';
import { downloadResumable, parseIntegrity } from '../../store/download';
import { npmRegistry } from '../../store/npm';
import { readElfDynamic } from './elf';
import {
  CUDA_PROVIDER_FILE,
  NPM_CUDA_PROVIDER,
  PROVIDER_MANIFEST_FILE,
  SHARED_PROVIDER_FILE,
  TENSORRT_PROVIDER_FILE,
  ortRuntime,
  type ProviderManifest,
} from './runtime';
import { param } from '../../../util/params';

export interface InstallOptions {
  /** A tarball URL (http/https) or file; default: the pinned package from the npm registry. */
  from?: string;
  /** Expected integrity of the tarball (`sha512-…`); default: the pinned package's. */
  integrity?: string;
  registryUrl?: string;
  /** Where the tarball is downloaded (and an interrupted download kept); default ~/.cache/convfeat/gpu. */
  downloadDir?: string;
  /** Also place the TensorRT provider library (it needs TensorRT's own libraries to load). */
  tensorrt?: boolean;
  /** For tests: the onnxruntime-node folder and version to install into. */
  target?: { binDir: string; version: string };
  log?: (line: string) => void;
}

export interface InstallResult {
  manifest: ProviderManifest;
  manifestFile: string;
  binDir: string;
  /** Bytes of the tarball reused from an interrupted earlier download. */
  resumedFrom: number;
}

export function defaultDownloadDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'convfeat', 'gpu');
}

function getJson(url: string, idleMs = 30_000): Promise<unknown> {
  const lib = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.get(url, { headers: { accept: 'application/json', 'user-agent': 'convfeat' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode ?? '?'}`));
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (e) {
          reject(e as Error);
        }
      });
    });
    req.setTimeout(idleMs, () => req.destroy(Object.assign(new Error('no answer'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
  });
}

/** The tarball URL and integrity the registry publishes for the pinned provider package (as `npm view … dist`). */
export async function resolveRegistryTarball(registryUrl?: string): Promise<{ url: string; integrity: string }> {
  const registry = npmRegistry(registryUrl).replace(/\/?$/, '/');
  const { package: name, version } = NPM_CUDA_PROVIDER;
  const metaUrl = `${registry}${name}/${version}`;
  let meta: { dist?: { tarball?: unknown; integrity?: unknown } };
  try {
    meta = (await getJson(metaUrl)) as typeof meta;
  } catch (e) {
    throw new ConvfeatError(
      `Cannot read ${name}@${version} from the npm registry at ${registry} (${(e as NodeJS.ErrnoException).code ?? describeError(e)}); connect to the internet, point CONVFEAT_NPM_REGISTRY at a reachable registry, or download the tarball elsewhere (npm pack ${name}@${version}) and run \`convfeat gpu install --from FILE\`.`,
      1,
      { cause: e },
    );
  }
  const url = meta.dist?.tarball;
  const integrity = meta.dist?.integrity;
  if (typeof url !== 'string' || typeof integrity !== 'string') {
    throw new ConvfeatError(`The registry's metadata for ${name}@${version} at ${metaUrl} names no tarball.`);
  }
  if (integrity !== NPM_CUDA_PROVIDER.integrity) {
    throw new ConvfeatError(
      `The registry at ${registry} publishes ${name}@${version} with integrity ${integrity}, not the pinned ${NPM_CUDA_PROVIDER.integrity}; nothing was downloaded.`,
    );
  }
  return { url, integrity };
}

/** The ONNX Runtime release a provider tarball was built from, read from its README ("ONNX Runtime: [1.29.0]"). */
export function providerOrtVersion(readme: string): string | null {
  const m = /ONNX Runtime:\s*\[?v?(\d+\.\d+\.\d+)\]?/.exec(readme);
  return m ? m[1]! : null;
}

async function unpack(tarball: string, staging: string, wanted: Set<string>): Promise<void> {
  try {
    await tar.x({ file: tarball, cwd: staging, strict: true, filter: (p) => wanted.has(p.replace(/^\.\//, '')) });
  } catch (e) {
    throw new ConvfeatError(
      `Cannot unpack ${tarball} (${describeError(e)}); it is not a complete .tgz — delete it and run the install again.`,
      1,
      { cause: e },
    );
  }
}

/** Copies `source` into `dir/name` through a temporary sibling, so a reader never sees half a library. */
function placeAtomically(source: string, dir: string, name: string): void {
  const target = path.join(dir, name);
  const tmp = tempSibling(target);
  try {
    fs.copyFileSync(source, tmp);
    fs.chmodSync(tmp, 0o755);
    const fd = fs.openSync(tmp, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    const code = (e as NodeJS.ErrnoException).code ?? describeError(e);
    throw new ConvfeatError(
      `Cannot write ${target} (${code}); onnxruntime-node's folder must be writable (install the project where you own node_modules, or run the install with the rights of its owner).`,
      1,
      { cause: e },
    );
  }
  commitTempFile(tmp, target);
}

export async function installCudaProvider(opts: InstallOptions = {}): Promise<InstallResult> {
  const log = opts.log ?? (() => undefined);
  if (!opts.target && (process.platform !== 'linux' || process.arch !== 'x64')) {
    throw new ConvfeatError(
      `convfeat gpu install places ONNX Runtime's Linux x64 CUDA provider; this is ${process.platform}/${process.arch}. On Windows use onnxruntime-node's own CUDA install (see the README's GPU section).`,
    );
  }
  const core = opts.target ?? ortRuntime();
  if (!fs.existsSync(core.binDir)) {
    throw new ConvfeatError(`onnxruntime-node's native folder ${core.binDir} does not exist; run npm ci first.`);
  }
  let integrity = opts.integrity ?? NPM_CUDA_PROVIDER.integrity;
  parseIntegrity(integrity);

  // 1. The tarball: a local file as given, otherwise a verified (and resumable) download.
  let tarball: string;
  let source: string;
  let resumedFrom = 0;
  let downloaded = false;
  const from = opts.from;
  if (from !== undefined && !/^https?:\/\//i.test(from)) {
    if (!fs.existsSync(from) || !fs.statSync(from).isFile()) {
      throw new ConvfeatError(
        `Expected ${param('from')} to be an http(s) URL or a tarball file but ${from} does not exist.`,
        2,
      );
    }
    const { algorithm, digest } = parseIntegrity(integrity);
    const hash = createHash(algorithm);
    for await (const chunk of fs.createReadStream(from)) hash.update(chunk as Buffer);
    const got = hash.digest('base64');
    if (got !== digest) {
      throw new ConvfeatError(
        `${from} has integrity ${algorithm}-${got} but ${integrity} was expected; it is not the provider tarball (or it is damaged), so nothing was installed. Pass ${param('integrity')} if you mean another provider package.`,
      );
    }
    tarball = from;
    source = path.resolve(from);
  } else {
    let url = from;
    if (url === undefined) {
      const resolved = await resolveRegistryTarball(opts.registryUrl);
      url = resolved.url;
      integrity = resolved.integrity;
    }
    const dir = opts.downloadDir ?? defaultDownloadDir();
    tarball = path.join(dir, path.basename(new URL(url).pathname) || 'provider.tgz');
    const got = await downloadResumable(url, tarball, {
      integrity,
      log,
      offlineHint: `connect to the internet, or fetch the tarball on another machine (npm pack ${NPM_CUDA_PROVIDER.package}@${NPM_CUDA_PROVIDER.version}) and run \`convfeat gpu install --from FILE\`.`,
    });
    resumedFrom = got.resumedFrom;
    source = url;
    downloaded = true;
  }

  // 2. Only the provider libraries and the README that names their ONNX Runtime release.
  const libDir = NPM_CUDA_PROVIDER.libDir;
  const names = [SHARED_PROVIDER_FILE, CUDA_PROVIDER_FILE, ...(opts.tensorrt ? [TENSORRT_PROVIDER_FILE] : [])];
  const staging = fs.mkdtempSync(path.join(path.dirname(tarball), '.convfeat-gpu-'));
  try {
    await unpack(tarball, staging, new Set(['package/README.md', ...names.map((n) => `${libDir}/${n}`)]));
    const missing = names.filter((n) => !fs.existsSync(path.join(staging, libDir, n)));
    if (missing.length > 0) {
      throw new ConvfeatError(
        `${source} has no ${missing.map((n) => `${libDir}/${n}`).join(', ')}; it is not a Linux x64 ONNX Runtime GPU provider package.`,
      );
    }
    const readmeFile = path.join(staging, 'package', 'README.md');
    const ortVersion = fs.existsSync(readmeFile) ? providerOrtVersion(fs.readFileSync(readmeFile, 'utf8')) : null;
    if (ortVersion === null) {
      throw new ConvfeatError(
        `${source} does not say which ONNX Runtime release its provider was built for (no "ONNX Runtime: [x.y.z]" in package/README.md), so it cannot be matched to onnxruntime-node ${core.version}; nothing was installed.`,
      );
    }
    if (ortVersion !== core.version) {
      throw new ConvfeatError(
        `The provider in ${source} is built for ONNX Runtime ${ortVersion} but onnxruntime-node here is ${core.version}; a provider loads only into its own release, so nothing was installed — pin onnxruntime-node to ${ortVersion} (ONNXRUNTIME_NODE_INSTALL=skip npm i -E onnxruntime-node@${ortVersion}) or use a provider package built for ${core.version}.`,
      );
    }
    const elf = readElfDynamic(path.join(staging, libDir, CUDA_PROVIDER_FILE));
    if (elf.machine !== 62) {
      throw new ConvfeatError(
        `${CUDA_PROVIDER_FILE} in ${source} is not an x86-64 library (ELF machine ${elf.machine}).`,
      );
    }
    const cudart = elf.needed.map((n) => /^libcudart\.so\.(\d+)$/.exec(n)).find((m) => m !== null);

    // 3. Place the libraries (shared first: the CUDA provider needs it), then record them.
    const files: ProviderManifest['files'] = [];
    for (const name of names) {
      const from = path.join(staging, libDir, name);
      placeAtomically(from, core.binDir, name);
      files.push({ name, bytes: fs.statSync(from).size, sha256: await sha256File(from) });
      log(`placed ${name} in ${core.binDir}`);
    }
    const manifest: ProviderManifest = {
      package: NPM_CUDA_PROVIDER.package,
      version: NPM_CUDA_PROVIDER.version,
      onnxruntime: ortVersion,
      cuda: cudart ? Number(cudart[1]) : null,
      source,
      integrity,
      installedAt: new Date().toISOString(),
      files,
    };
    if (opts.integrity !== undefined && opts.integrity !== NPM_CUDA_PROVIDER.integrity) {
      // Not the pinned package: the manifest must not claim its name and version.
      manifest.package = 'unknown';
      manifest.version = 'unknown';
    }
    const manifestFile = path.join(core.binDir, PROVIDER_MANIFEST_FILE);
    writeFileAtomicSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
    return { manifest, manifestFile, binDir: core.binDir, resumedFrom };
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
    // The libraries are in place; 179 MB of tarball in the user's cache would be dead weight.
    if (downloaded) fs.rmSync(tarball, { force: true });
  }
}
