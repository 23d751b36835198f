import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { cutAtEmbedding } from '../../src/backbone/graph/cut';
import { encodeModel } from '../../src/backbone/graph/proto';
import {
  createSession,
  CUDA_INSTALL_COMMAND,
  cudaProviderLibrary,
  cudaUnavailableReason,
  openCudaSession,
  parseDevice,
  runBatch,
} from '../../src/backbone/runtime/session';
import { ConvfeatError, UsageError } from '../../src/util/errors';
import { tmpDir } from '../support/data';
import { IMAGE_SIZE, randomImages, resnetLike, RESNET_EMBEDDING_DIM, withExtraOutput } from '../support/graphs';

const PIXELS = 3 * IMAGE_SIZE * IMAGE_SIZE;
/** True on machines like the CI/dev boxes here, where onnxruntime-node was installed with onnxruntime-node-install=skip. */
const CUDA_PROVIDER_MISSING = !fs.existsSync(cudaProviderLibrary() ?? '');

async function expectRejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('parseDevice', () => {
  test.each([
    ['auto', { kind: 'auto', deviceId: 0 }],
    ['cpu', { kind: 'cpu', deviceId: 0 }],
    ['cuda', { kind: 'cuda', deviceId: 0 }],
    ['cuda:0', { kind: 'cuda', deviceId: 0 }],
    ['cuda:3', { kind: 'cuda', deviceId: 3 }],
  ])('%s', (text, spec) => {
    expect(parseDevice(text)).toEqual(spec);
  });

  test.each([['gpu'], ['CPU'], ['cuda:'], ['cuda:-1'], ['cuda:x'], ['cuda:64'], ['cuda:1.5'], [''], [7], [null]])(
    'refuses %p',
    (text) => {
      expect(() => parseDevice(text)).toThrow(UsageError);
      expect(() => parseDevice(text)).toThrow(
        `Expected device to be one of auto, cpu, cuda, cuda:N but received ${JSON.stringify(text)}`,
      );
    },
  );
});

describe('createSession and runBatch', () => {
  const graph = resnetLike({ fixedBatch: true });
  const cut = encodeModel(cutAtEmbedding(graph.model).model);

  test('cpu: runs a cut model on a batch of 3 and matches the uncut model’s pooled vector', async () => {
    const handle = await createSession(cut, { device: 'cpu', threads: 1 });
    expect(handle).toMatchObject({
      provider: 'cpu',
      inputName: 'input',
      outputName: 'embedding',
      inputShape: ['batch', 3, 16, 16],
      threads: 1,
    });
    expect(handle.fallbackReason).toBeUndefined();
    const images = randomImages(3, 11);
    const embeddings = await runBatch(handle, images, 3);
    expect(embeddings).toBeInstanceOf(Float32Array);
    expect(embeddings.length).toBe(3 * RESNET_EMBEDDING_DIM);
    const reference = await ort.InferenceSession.create(withExtraOutput(graph.model, graph.expected.tensor));
    for (let i = 0; i < 3; i++) {
      const feeds = {
        input: new ort.Tensor('float32', images.slice(i * PIXELS, (i + 1) * PIXELS), [1, 3, IMAGE_SIZE, IMAGE_SIZE]),
      };
      const expected = (await reference.run(feeds, [graph.expected.tensor]))[graph.expected.tensor]!
        .data as Float32Array;
      const row = embeddings.subarray(i * RESNET_EMBEDDING_DIM, (i + 1) * RESNET_EMBEDDING_DIM);
      for (let j = 0; j < RESNET_EMBEDDING_DIM; j++)
        expect(Math.abs((row[j] as number) - (expected[j] as number))).toBeLessThanOrEqual(1e-5);
    }
    // A view into a larger buffer is read from its own offset, not from the start of the buffer.
    const second = await runBatch(handle, images.subarray(PIXELS, 2 * PIXELS), 1);
    expect(Array.from(second)).toEqual(Array.from(embeddings.subarray(RESNET_EMBEDDING_DIM, 2 * RESNET_EMBEDDING_DIM)));
    await handle.session.release();
    await reference.release();
  });

  test('a model file path works and threads default to every core', async () => {
    const dir = tmpDir('session');
    const file = path.join(dir, 'cut.onnx');
    fs.writeFileSync(file, cut);
    const handle = await createSession(file, { device: 'cpu' });
    // Every core this process may use, as Node reports it (os.availableParallelism exists on every Node this package
    // supports, >= 20), not the value the code under test computes.
    expect(handle.threads).toBe(os.availableParallelism());
    expect((await runBatch(handle, randomImages(2), 2)).length).toBe(2 * RESNET_EMBEDDING_DIM);
    await handle.session.release();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('bad arguments are refused at the door', async () => {
    expect((await expectRejection(createSession(cut, { device: 'cpu', threads: 0 }))).message).toBe(
      'Expected threads to be an integer between 1 and 1024 but received 0',
    );
    expect((await expectRejection(createSession(cut, { device: 'gpu' }))).message).toMatch(
      /^Expected device to be one of/,
    );
    expect((await expectRejection(createSession('no/such/model.onnx'))).message).toBe(
      'Model file no/such/model.onnx does not exist; check the path or run `convfeat models list`.',
    );
    const garbage = await expectRejection(createSession(Buffer.from('not a model at all'), { device: 'cpu' }));
    expect(garbage).toBeInstanceOf(ConvfeatError);
    expect(garbage.message).toMatch(
      /^ONNX Runtime cannot load the model \(.+\); check that it is a complete \.onnx file\.$/,
    );

    const handle = await createSession(cut, { device: 'cpu', threads: 1 });
    expect((await expectRejection(runBatch(handle, new Float32Array(PIXELS + 1), 1))).message).toBe(
      'Expected the images to be 1 images of [3, 16, 16] (768 values) but received "769 values"',
    );
    expect((await expectRejection(runBatch(handle, randomImages(1), 0))).message).toMatch(
      /^Expected the batch size to be an integer/,
    );
    await handle.session.release();
  });

  test('an uncut export with a fixed batch of 1 cannot run 2 images, and says how to fix it', async () => {
    const handle = await createSession(graph.bytes, { device: 'cpu', threads: 1 });
    expect(handle.outputName).toBe('output');
    const error = await expectRejection(runBatch(handle, randomImages(2), 2));
    expect(error.message).toBe(
      "The model's input has a fixed batch size of 1, so it cannot run 2 images at once; cut it with convfeat, which makes the batch axis dynamic.",
    );
    await handle.session.release();
  });
});

describe('execution providers on a machine without the CUDA provider', () => {
  const cut = encodeModel(cutAtEmbedding(resnetLike().model).model);
  const onlyWithoutCuda = CUDA_PROVIDER_MISSING ? test : test.skip;

  onlyWithoutCuda('auto falls back to CPU and says why in exactly one line', async () => {
    const lines: string[] = [];
    const handle = await createSession(cut, { device: 'auto', threads: 1, log: (line) => lines.push(line) });
    expect(handle.provider).toBe('cpu');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^device auto: using CPU because the CUDA execution provider is not installed \((lib)?onnxruntime_providers_cuda\.(so|dll) is missing; run `npx convfeat gpu install`\)\.$/,
    );
    expect(lines[0]).not.toContain('\n');
    expect(handle.fallbackReason).toBe(cudaUnavailableReason());
    expect((await runBatch(handle, randomImages(1), 1)).length).toBe(RESNET_EMBEDDING_DIM);
    await handle.session.release();
  });

  onlyWithoutCuda('an explicit cuda fails with a sentence naming the install command', async () => {
    for (const device of ['cuda', 'cuda:1']) {
      const error = await expectRejection(createSession(cut, { device, threads: 1 }));
      expect(error).toBeInstanceOf(ConvfeatError);
      expect((error as ConvfeatError).exitCode).toBe(1);
      expect(error.message).toContain(
        `device ${device} cannot be used: the CUDA execution provider is not installed`,
      );
      expect(error.message).toContain(`\`${CUDA_INSTALL_COMMAND}\``);
      expect(error.message).toContain('`npx convfeat gpu check` shows the full diagnosis');
      expect(error.message).toMatch(/or pass device cpu\.$/);
    }
  });

  onlyWithoutCuda(
    'onnxruntime-node itself throws at session creation when asked for CUDA (no silent fallback)',
    async () => {
      const attempt = await openCudaSession(cut, { intraOpNumThreads: 1 }, 0);
      expect(attempt).toEqual({ reason: cudaUnavailableReason() });
      await expect(
        ort.InferenceSession.create(cut, { executionProviders: [{ name: 'cuda', deviceId: 0 }] }),
      ).rejects.toThrow(/Failed to load shared library/);
    },
  );
});

describe('execution providers on a machine with the CUDA provider installed', () => {
  const onlyWithCuda = CUDA_PROVIDER_MISSING ? test.skip : test;
  onlyWithCuda('auto uses CUDA, or falls back with one line saying why the provider failed to start', async () => {
    const graph = resnetLike();
    const cut = encodeModel(cutAtEmbedding(graph.model).model);
    const lines: string[] = [];
    const handle = await createSession(cut, { device: 'auto', log: (line) => lines.push(line) });
    const diagnosis = cudaUnavailableReason();
    if (handle.provider === 'cuda') {
      expect(lines).toEqual([]);
      expect(handle.deviceId).toBe(0);
    } else if (diagnosis !== null) {
      // What `gpu check` says (no driver, a missing CUDA library…), found before trying, in one line.
      expect(lines).toEqual([`device auto: using CPU because ${diagnosis}.`]);
      const error = await expectRejection(createSession(cut, { device: 'cuda', threads: 1 }));
      expect(error.message).toBe(
        `device cuda cannot be used: ${diagnosis}; \`npx convfeat gpu check\` shows the full diagnosis, or pass device cpu.`,
      );
    } else {
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^device auto: using CPU because the CUDA execution provider failed to start on device 0/,
      );
    }
    expect((await runBatch(handle, randomImages(4), 4)).length).toBe(4 * RESNET_EMBEDDING_DIM);
    await handle.session.release();
  });
});
