/**
 * `convfeat gpu install` against a local HTTP server on 127.0.0.1 serving small tarballs with the provider package's
 * layout (package/README.md naming the ONNX Runtime release, package/Plugins/Linux/x64/*.so as ELF libraries):
 * success and file placement, integrity mismatch, an interrupted transfer resumed with a Range request, a server that
 * ignores ranges, a provider built for another release, a local file, and the registry metadata check.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as path from 'path';
import * as tar from 'tar';
import {
  installCudaProvider,
  providerOrtVersion,
  resolveRegistryTarball,
} from '../../src/backbone/runtime/gpu/install';
import { NPM_CUDA_PROVIDER, readProviderManifest } from '../../src/backbone/runtime/gpu/runtime';
import { partialFile } from '../../src/backbone/store/download';
import { ConvfeatError } from '../../src/util/errors';
import { buildElf } from '../support/elf';
import { tmpDir } from '../support/data';

const LIB = 'package/Plugins/Linux/x64';

async function providerTarball(ortVersion: string, opts: { extra?: number } = {}): Promise<Buffer> {
  const src = tmpDir('gpu-pkg');
  fs.mkdirSync(path.join(src, LIB), { recursive: true });
  fs.writeFileSync(
    path.join(src, 'package', 'README.md'),
    `# ONNX Runtime Unity\n\n- ONNX Runtime: [${ortVersion}](https://github.com/microsoft/onnxruntime/releases/tag/v${ortVersion})\n`,
  );
  fs.writeFileSync(path.join(src, 'package', 'package.json'), '{"name":"fake-gpu","version":"0.0.1"}');
  const cuda = buildElf({ needed: ['libcublasLt.so.13', 'libcudart.so.13', 'libcuda.so.1', 'libc.so.6'] });
  // Padding makes the transfer long enough to cut in the middle.
  fs.writeFileSync(
    path.join(src, LIB, 'libonnxruntime_providers_cuda.so'),
    Buffer.concat([cuda, Buffer.alloc(opts.extra ?? 200_000, 7)]),
  );
  fs.writeFileSync(
    path.join(src, LIB, 'libonnxruntime_providers_shared.so'),
    buildElf({ needed: ['libc.so.6'], soname: 'libonnxruntime_providers_shared.so' }),
  );
  fs.writeFileSync(
    path.join(src, LIB, 'libonnxruntime_providers_tensorrt.so'),
    buildElf({ needed: ['libnvinfer.so.10'] }),
  );
  const file = path.join(src, 'out.tgz');
  // Random-ish content so gzip cannot shrink the padding to nothing.
  fs.appendFileSync(
    path.join(src, LIB, 'libonnxruntime_providers_cuda.so'),
    createHash('sha512').update(ortVersion).digest().toString('hex').repeat(3000),
  );
  await tar.c({ gzip: true, file, cwd: src, portable: true }, ['package']);
  return fs.readFileSync(file);
}

const sri = (data: Buffer): string => `sha512-${createHash('sha512').update(data).digest('base64')}`;

interface Server {
  base: string;
  requests: Array<{ url: string; range?: string }>;
  close: () => Promise<void>;
}

async function serve(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<Server> {
  const requests: Server['requests'] = [];
  const server = http.createServer((req, res) => {
    requests.push({ url: req.url ?? '', ...(req.headers.range ? { range: req.headers.range } : {}) });
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Serves `body` whole, or from the asked byte when a Range header comes (as registries' CDNs do). */
function rangeServer(body: Buffer, opts: { cutFirstAt?: number; ignoreRange?: boolean } = {}) {
  let first = true;
  return (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m && !opts.ignoreRange) {
      const from = Number(m[1]);
      res.writeHead(206, {
        'content-length': body.length - from,
        'content-range': `bytes ${from}-${body.length - 1}/${body.length}`,
      });
      res.end(body.subarray(from));
      return;
    }
    res.writeHead(200, { 'content-length': body.length });
    if (first && opts.cutFirstAt !== undefined) {
      first = false;
      res.write(body.subarray(0, opts.cutFirstAt), () => setTimeout(() => res.destroy(), 50));
      return;
    }
    res.end(body);
  };
}

function fakeCore(version = '1.29.0'): { binDir: string; version: string } {
  const binDir = tmpDir('gpu-core');
  fs.writeFileSync(
    path.join(binDir, 'libonnxruntime.so.1'),
    buildElf({ needed: ['libc.so.6'], soname: 'libonnxruntime.so.1' }),
  );
  return { binDir, version };
}

async function rejection(p: Promise<unknown>): Promise<ConvfeatError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ConvfeatError);
    return e as ConvfeatError;
  }
  throw new Error('expected a rejection');
}

const providerFiles = (dir: string): string[] =>
  fs
    .readdirSync(dir)
    .filter((n) => n.includes('providers'))
    .sort();

describe('convfeat gpu install', () => {
  let good: Buffer;
  let old: Buffer;
  beforeAll(async () => {
    good = await providerTarball('1.29.0');
    old = await providerTarball('1.28.0');
  });

  test('reads the ONNX Runtime release from the package README', () => {
    expect(
      providerOrtVersion('- ONNX Runtime: [1.29.0](https://github.com/microsoft/onnxruntime/releases/tag/v1.29.0)'),
    ).toBe('1.29.0');
    expect(providerOrtVersion('no version here')).toBeNull();
  });

  test('success: the provider libraries land beside the core, byte for byte, and the manifest records them', async () => {
    const server = await serve(rangeServer(good));
    try {
      const core = fakeCore();
      const downloadDir = tmpDir('gpu-dl');
      const result = await installCudaProvider({
        from: `${server.base}/p.tgz`,
        integrity: sri(good),
        target: core,
        downloadDir,
      });
      expect(providerFiles(core.binDir)).toEqual([
        'libonnxruntime_providers_cuda.so',
        'libonnxruntime_providers_shared.so',
      ]);
      const extracted = tmpDir('gpu-x');
      await tar.x({ file: await writeTemp(good), cwd: extracted });
      for (const name of ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so']) {
        expect(
          fs.readFileSync(path.join(core.binDir, name)).equals(fs.readFileSync(path.join(extracted, LIB, name))),
        ).toBe(true);
        expect(fs.statSync(path.join(core.binDir, name)).mode & 0o111).not.toBe(0);
      }
      const manifest = readProviderManifest(core.binDir)!;
      expect(manifest).toMatchObject({
        onnxruntime: '1.29.0',
        cuda: 13,
        source: `${server.base}/p.tgz`,
        integrity: sri(good),
        package: 'unknown',
      });
      expect(manifest.files.map((f) => f.name)).toEqual([
        'libonnxruntime_providers_shared.so',
        'libonnxruntime_providers_cuda.so',
      ]);
      for (const f of manifest.files) {
        const bytes = fs.readFileSync(path.join(core.binDir, f.name));
        expect(f.bytes).toBe(bytes.length);
        expect(f.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
      }
      expect(result.resumedFrom).toBe(0);
      // Nothing left behind: no tarball, no partial, no staging folder, no temp file beside the libraries.
      expect(fs.readdirSync(downloadDir)).toEqual([]);
      expect(fs.readdirSync(core.binDir).filter((n) => n.startsWith('.'))).toEqual([]);
    } finally {
      await server.close();
    }
  });

  test('--tensorrt also places the TensorRT provider', async () => {
    const core = fakeCore();
    await installCudaProvider({ from: await writeTemp(good), integrity: sri(good), target: core, tensorrt: true });
    expect(providerFiles(core.binDir)).toEqual([
      'libonnxruntime_providers_cuda.so',
      'libonnxruntime_providers_shared.so',
      'libonnxruntime_providers_tensorrt.so',
    ]);
  });

  test('integrity mismatch: one sentence, nothing placed, nothing kept', async () => {
    const server = await serve(rangeServer(good));
    try {
      const core = fakeCore();
      const downloadDir = tmpDir('gpu-dl');
      const error = await rejection(
        installCudaProvider({ from: `${server.base}/p.tgz`, integrity: sri(old), target: core, downloadDir }),
      );
      expect(error.message).toContain(`has integrity ${sri(good)} but ${sri(old)} was expected`);
      expect(error.message).toContain('nothing was installed');
      expect(providerFiles(core.binDir)).toEqual([]);
      expect(fs.readdirSync(downloadDir)).toEqual([]);
    } finally {
      await server.close();
    }
  });

  test('an interrupted transfer keeps its bytes and the next run resumes with a Range request', async () => {
    const cut = Math.floor(good.length / 2);
    const server = await serve(rangeServer(good, { cutFirstAt: cut }));
    try {
      const core = fakeCore();
      const downloadDir = tmpDir('gpu-dl');
      const opts = { from: `${server.base}/p.tgz`, integrity: sri(good), target: core, downloadDir };
      const error = await rejection(installCudaProvider(opts));
      const partial = partialFile(path.join(downloadDir, 'p.tgz'));
      expect(error.message).toMatch(/was interrupted after .* \(connection closed/);
      expect(error.message).toContain(
        `the bytes received are kept in ${partial}; run the same command again to resume.`,
      );
      expect(fs.statSync(partial).size).toBe(cut);
      expect(providerFiles(core.binDir)).toEqual([]);

      const result = await installCudaProvider(opts);
      expect(result.resumedFrom).toBe(cut);
      expect(server.requests.map((r) => r.range)).toEqual([undefined, `bytes=${cut}-`]);
      expect(providerFiles(core.binDir)).toEqual([
        'libonnxruntime_providers_cuda.so',
        'libonnxruntime_providers_shared.so',
      ]);
      expect(fs.existsSync(partial)).toBe(false);
    } finally {
      await server.close();
    }
  });

  test('a server that ignores the range sends the whole file again, which is taken from the start', async () => {
    const server = await serve(rangeServer(good, { ignoreRange: true }));
    try {
      const core = fakeCore();
      const downloadDir = tmpDir('gpu-dl');
      fs.writeFileSync(partialFile(path.join(downloadDir, 'p.tgz')), good.subarray(0, 1000));
      const result = await installCudaProvider({
        from: `${server.base}/p.tgz`,
        integrity: sri(good),
        target: core,
        downloadDir,
      });
      expect(result.resumedFrom).toBe(0);
      expect(server.requests[0]!.range).toBe('bytes=1000-');
      expect(readProviderManifest(core.binDir)?.onnxruntime).toBe('1.29.0');
    } finally {
      await server.close();
    }
  });

  test('a provider built for another ONNX Runtime release is refused before anything is placed', async () => {
    const server = await serve(rangeServer(old));
    try {
      const core = fakeCore('1.29.0');
      const error = await rejection(
        installCudaProvider({
          from: `${server.base}/old.tgz`,
          integrity: sri(old),
          target: core,
          downloadDir: tmpDir('gpu-dl'),
        }),
      );
      expect(error.message).toBe(
        `The provider in ${server.base}/old.tgz is built for ONNX Runtime 1.28.0 but onnxruntime-node here is 1.29.0; a provider loads only into its own release, so nothing was installed — pin onnxruntime-node to 1.28.0 (ONNXRUNTIME_NODE_INSTALL=skip npm i -E onnxruntime-node@1.28.0) or use a provider package built for 1.29.0.`,
      );
      expect(providerFiles(core.binDir)).toEqual([]);
      expect(readProviderManifest(core.binDir)).toBeNull();
    } finally {
      await server.close();
    }
  });

  test('--from FILE: checked against the integrity, never downloaded, kept where it was', async () => {
    const file = await writeTemp(good);
    const core = fakeCore();
    const result = await installCudaProvider({ from: file, integrity: sri(good), target: core });
    expect(result.manifest.source).toBe(path.resolve(file));
    expect(fs.existsSync(file)).toBe(true);
    const wrong = await rejection(installCudaProvider({ from: file, target: fakeCore() }));
    expect(wrong.message).toContain(`but ${NPM_CUDA_PROVIDER.integrity} was expected; it is not the provider tarball`);
    const missing = await rejection(
      installCudaProvider({ from: path.join(tmpDir('gpu-none'), 'x.tgz'), target: fakeCore() }),
    );
    expect(missing.exitCode).toBe(2);
    expect(missing.message).toMatch(
      /^Expected from to be an http\(s\) URL or a tarball file but .*x\.tgz does not exist\.$/,
    );
  });

  test('a tarball without the provider libraries says so', async () => {
    const src = tmpDir('gpu-empty');
    fs.mkdirSync(path.join(src, 'package'));
    fs.writeFileSync(path.join(src, 'package', 'README.md'), '- ONNX Runtime: [1.29.0]');
    const file = path.join(src, 'e.tgz');
    await tar.c({ gzip: true, file, cwd: src }, ['package']);
    const data = fs.readFileSync(file);
    const error = await rejection(installCudaProvider({ from: file, integrity: sri(data), target: fakeCore() }));
    expect(error.message).toContain('it is not a Linux x64 ONNX Runtime GPU provider package');
  });

  test('the registry route reads dist.tarball from the metadata and refuses an integrity other than the pinned one', async () => {
    const server = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ dist: { tarball: `http://127.0.0.1/x.tgz`, integrity: sri(old) } }));
    });
    try {
      const error = await rejection(resolveRegistryTarball(`${server.base}/`));
      expect(server.requests[0]!.url).toBe(`/${NPM_CUDA_PROVIDER.package}/${NPM_CUDA_PROVIDER.version}`);
      expect(error.message).toContain(`not the pinned ${NPM_CUDA_PROVIDER.integrity}; nothing was downloaded.`);
    } finally {
      await server.close();
    }
    const unreachable = await rejection(resolveRegistryTarball('http://127.0.0.1:1/'));
    expect(unreachable.message).toContain('run `convfeat gpu install --from FILE`');
  });
});

async function writeTemp(data: Buffer): Promise<string> {
  const file = path.join(tmpDir('gpu-file'), 'provider.tgz');
  await fs.promises.writeFile(file, data);
  return file;
}
