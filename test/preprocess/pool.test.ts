/**
 * PreprocessPool with real worker threads. Workers need compiled JavaScript; so that this test never depends on a
 * (possibly stale) dist/ build, it transpiles src/preprocess and src/util into a scratch folder inside the checkout
 * (so `sharp` resolves from node_modules) and hands the pool that worker script.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';
import { ImageDecodeError, preprocess, PreprocessPool, TORCHVISION_IMAGENET } from '../../src/preprocess';
import { photos, REPO_ROOT } from '../support/data';

const OPTS = { spec: TORCHVISION_IMAGENET, exif: 'ignore' } as const;
const scratch = path.join(REPO_ROOT, '.tmp', `preprocess-pool-test-${process.pid}`);
let workerScript: string;

function transpileFolder(rel: string): void {
  const from = path.join(REPO_ROOT, rel);
  const to = path.join(scratch, rel);
  fs.mkdirSync(to, { recursive: true });
  for (const name of fs.readdirSync(from).filter((f) => f.endsWith('.ts'))) {
    const out = ts.transpileModule(fs.readFileSync(path.join(from, name), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    });
    fs.writeFileSync(path.join(to, name.replace(/\.ts$/, '.js')), out.outputText);
  }
}

/** A Buffer that owns its whole ArrayBuffer, as fs.promises.readFile returns. */
function owned(bytes: Buffer): Buffer {
  const copy = Buffer.from(new ArrayBuffer(bytes.length));
  bytes.copy(copy);
  return copy;
}

beforeAll(() => {
  transpileFolder(path.join('src', 'util'));
  transpileFolder(path.join('src', 'preprocess'));
  workerScript = path.join(scratch, 'src', 'preprocess', 'worker.js');
});

afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

describe('PreprocessPool', () => {
  const files = photos('test', 'motorbike', 6);

  test('two worker threads give bit-identical tensors to in-process preprocessing', async () => {
    const pool = new PreprocessPool({ threads: 2, opts: OPTS, workerScript });
    try {
      expect(pool.mode).toBe('workers');
      const tensors = await Promise.all(files.map((f) => pool.run(owned(fs.readFileSync(f)))));
      for (let i = 0; i < files.length; i++) {
        const expected = await preprocess(fs.readFileSync(files[i]), OPTS);
        expect(tensors[i]).toBeInstanceOf(Float32Array);
        expect(Buffer.compare(Buffer.from(tensors[i].buffer), Buffer.from(expected.buffer))).toBe(0);
      }
      expect(pool.mode).toBe('workers');
    } finally {
      await pool.close();
    }
  });

  test.each([
    ['workers', 1],
    ['in-process', 0],
  ] as const)('recycled tensors are reused and fully overwritten (%s)', async (mode, threads) => {
    // Two rounds over the same photos, the first round's tensors poisoned with NaN and handed back in between: the
    // second round writes into them (the pool moves them to the worker, detaching them here) and must still give
    // exactly the in-process tensors, every element overwritten.
    const pool = new PreprocessPool({ threads, opts: OPTS, workerScript, transfer: false });
    try {
      expect(pool.mode).toBe(mode);
      const expected = await Promise.all(files.map((f) => preprocess(fs.readFileSync(f), OPTS)));
      const first = await Promise.all(files.map((f) => pool.run(fs.readFileSync(f))));
      for (const t of first) t.fill(NaN);
      pool.recycle(first);
      const second: Float32Array[] = [];
      for (const f of files) second.push(await pool.run(fs.readFileSync(f)));
      if (mode === 'workers')
        expect(first.every((t) => t.length === 0)).toBe(true); // moved to the worker
      else expect(second.some((t) => first.includes(t))).toBe(true); // written in place
      for (let i = 0; i < files.length; i++) {
        expect(Buffer.compare(Buffer.from(second[i]!.buffer), Buffer.from(expected[i]!.buffer))).toBe(0);
      }
      // A tensor that is a view on a larger buffer is not taken: its buffer holds more than the tensor.
      const view = new Float32Array(new ArrayBuffer(expected[0]!.byteLength * 2), 0, expected[0]!.length);
      pool.recycle([view]);
      await pool.run(fs.readFileSync(files[0]!));
      expect(view.length).toBe(expected[0]!.length);
    } finally {
      await pool.close();
    }
  });

  test('input buffers are moved to the worker (detached) unless transfer is false or they share memory', async () => {
    const pool = new PreprocessPool({ threads: 1, opts: OPTS, workerScript });
    const keep = new PreprocessPool({ threads: 1, opts: OPTS, workerScript, transfer: false });
    try {
      const moved = owned(fs.readFileSync(files[0]));
      const promise = pool.run(moved);
      await promise;
      expect(moved.length).toBe(0);

      const kept = owned(fs.readFileSync(files[0]));
      await keep.run(kept);
      expect(kept.length).toBeGreaterThan(0);

      // A slice of a bigger buffer must never detach its neighbours' memory.
      const big = Buffer.concat([Buffer.alloc(10), fs.readFileSync(files[0])]);
      const slice = big.subarray(10);
      await expect(pool.run(slice)).resolves.toHaveLength(3 * 224 * 224);
      expect(big.length).toBeGreaterThan(10);
    } finally {
      await Promise.all([pool.close(), keep.close()]);
    }
  });

  test('decode failures come back from the worker as ImageDecodeError with their reason', async () => {
    const pool = new PreprocessPool({ threads: 2, opts: OPTS, workerScript });
    try {
      const bytes = fs.readFileSync(files[0]);
      const results = await Promise.allSettled([
        pool.run(Buffer.alloc(0)),
        pool.run(Buffer.from('not an image at all')),
        pool.run(owned(bytes.subarray(0, bytes.length >> 1))),
        pool.run(owned(bytes)),
      ]);
      const reasons = results.map((r) => (r.status === 'rejected' ? (r.reason as ImageDecodeError).reason : 'ok'));
      expect(reasons).toEqual([
        'empty file (0 bytes)',
        'not an image or unsupported format',
        'truncated or corrupt JPEG',
        'ok',
      ]);
      for (const r of results.slice(0, 3)) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(ImageDecodeError);
    } finally {
      await pool.close();
    }
  });

  test('a worker that dies mid-image fails that image only; the pool replaces it', async () => {
    // Wraps the real worker and exits on a 13-byte input.
    const killer = path.join(scratch, 'killer-worker.js');
    fs.writeFileSync(
      killer,
      `const { parentPort } = require('worker_threads');\n` +
        `parentPort.on('message', (m) => { if (m.bytes && m.bytes.length === 13) process.exit(3); });\n` +
        `require(${JSON.stringify(workerScript)});\n`,
    );
    const pool = new PreprocessPool({ threads: 1, opts: OPTS, workerScript: killer });
    try {
      await expect(pool.run(Buffer.from('thirteen byte'))).rejects.toThrow('preprocess worker exited with code 3');
      await expect(pool.run(owned(fs.readFileSync(files[1])))).resolves.toHaveLength(3 * 224 * 224);
      expect(pool.mode).toBe('workers');
    } finally {
      await pool.close();
    }
  });

  test('workers that cannot start: the pool falls back to in-process and loses no image', async () => {
    const broken = path.join(scratch, 'broken-worker.js');
    fs.writeFileSync(broken, `throw new Error('cannot load');\n`);
    const pool = new PreprocessPool({ threads: 2, opts: OPTS, workerScript: broken });
    try {
      const tensors = await Promise.all(files.slice(0, 3).map((f) => pool.run(fs.readFileSync(f))));
      expect(pool.mode).toBe('in-process');
      expect(pool.fallbackReason).toMatch(/cannot load/);
      const expected = await preprocess(fs.readFileSync(files[2]), OPTS);
      expect(Buffer.compare(Buffer.from(tensors[2].buffer), Buffer.from(expected.buffer))).toBe(0);
    } finally {
      await pool.close();
    }
  });

  test('threads = 0 runs in-process; a closed pool refuses work; bad options are refused at the door', async () => {
    const pool = new PreprocessPool({ threads: 0, opts: OPTS });
    expect(pool.mode).toBe('in-process');
    expect(pool.fallbackReason).toBe('threads = 0');
    await expect(pool.run(fs.readFileSync(files[0]))).resolves.toHaveLength(3 * 224 * 224);
    await pool.close();
    await expect(pool.run(fs.readFileSync(files[0]))).rejects.toThrow('The preprocessing pool is closed.');
    expect(() => new PreprocessPool({ threads: -1, opts: OPTS })).toThrow(
      'Expected threads to be an integer between 0 and 256 but received -1',
    );
    expect(() => new PreprocessPool({ threads: 1, opts: { ...OPTS, exif: 'yes' } as never })).toThrow(
      /Expected preprocessing options.exif to be one of "apply", "ignore"/,
    );
  });

  test('close() finishes the images a worker has started and refuses the queued ones', async () => {
    const pool = new PreprocessPool({ threads: 1, opts: OPTS, workerScript });
    await pool.run(owned(fs.readFileSync(files[0]))); // the worker is up: the next run() dispatches at once
    // One worker takes two images at a time; the other two wait in the queue.
    const pending = files.slice(0, 4).map((f) => pool.run(owned(fs.readFileSync(f))));
    const settled = Promise.allSettled(pending);
    await pool.close();
    const results = await settled;
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected']);
    expect((results[0] as PromiseFulfilledResult<Float32Array>).value).toHaveLength(3 * 224 * 224);
    expect((results[2] as PromiseRejectedResult).reason.message).toBe('The preprocessing pool was closed.');
  });
});
