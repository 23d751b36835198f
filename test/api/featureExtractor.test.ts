/**
 * featureExtractor(): the one-call door to the real ResNet50. embed() needs no cache and no scan, and gives the very
 * floats `extract` stores for the same photos; Buffers and paths agree; an unusable image is named by its index and
 * path (or skipped with the way back to the inputs); options are checked at the door under their API names.
 */
import * as fs from 'fs';
import * as path from 'path';
import { featureExtractor, EmbedError } from '../../src';
import { loadSplit } from '../../src/cache';
import { photos, tmpDir } from '../support/data';
import { realResnet50, STORE_DIR } from '../support/model';
import { PreprocessPool } from '../../src/preprocess/pool';

const work = tmpDir('fx');
const three = [...photos('test', 'cat', 2), ...photos('test', 'airplane', 1)];

beforeAll(async () => {
  await realResnet50();
});

test('embed() of three photos gives the floats extract() caches for them; Buffers and paths agree; dispose closes', async () => {
  const folder = path.join(work, 'three');
  fs.mkdirSync(folder);
  for (const p of three) fs.copyFileSync(p, path.join(folder, path.basename(p)));
  const cache = path.join(work, 'cache');
  {
    await using fx = await featureExtractor('resnet50', { storeDir: STORE_DIR, device: 'cpu' });
    expect(fx.dim).toBe(2048);
    expect(fx.model).toBe('resnet50');
    expect(fx.identity.modelFingerprint).toMatch(/^[0-9a-f]{16,}$/);

    const fromPaths = await fx.embed(three);
    expect(fromPaths).toMatchObject({ rows: 3, dim: 2048, failures: [] });
    expect(fromPaths.data).toBeInstanceOf(Float32Array);
    expect(fromPaths.data.length).toBe(3 * 2048);
    expect(Array.from(fromPaths.inputIndex)).toEqual([0, 1, 2]);

    // The caller's Buffers are read, not moved to the workers: they are intact afterwards.
    const buffers = three.map((p) => fs.readFileSync(p));
    const lengths = buffers.map((b) => b.length);
    const fromBuffers = await fx.embed([buffers[0]!, three[1]!, buffers[2]!]);
    expect(buffers.map((b) => b.length)).toEqual(lengths);
    expect(Buffer.from(fromBuffers.data.buffer).equals(Buffer.from(fromPaths.data.buffer))).toBe(true);

    // A row does not depend on the batch it was computed in (onnxruntime CPU): one image alone, the same floats.
    const alone = await fx.embed([three[2]!]);
    expect(Buffer.from(alone.data.buffer).equals(Buffer.from(fromPaths.data.slice(2 * 2048).buffer))).toBe(true);

    const summary = await fx.extract(folder, { cache });
    expect(summary).toMatchObject({ extracted: 3, failed: 0, model: 'resnet50', dim: 2048 });
    const cached = loadSplit(cache);
    for (let i = 0; i < three.length; i++) {
      const row = cached.relPaths.indexOf(path.basename(three[i]!));
      expect(row).toBeGreaterThanOrEqual(0);
      const stored = cached.X.subarray(row * 2048, (row + 1) * 2048);
      // Same floats, bit for bit: one road from bytes to rows.
      expect(
        Buffer.from(fromPaths.data.slice(i * 2048, (i + 1) * 2048).buffer).equals(Buffer.from(stored.slice().buffer)),
      ).toBe(true);
    }
    expect(cached.meta.modelFingerprint).toBe(fx.identity.modelFingerprint);
    // `await using` disposes here.
    (globalThis as { lastFx?: typeof fx }).lastFx = fx;
  }
  const disposed = (globalThis as { lastFx?: { embed: (i: string[]) => Promise<unknown> } }).lastFx!;
  await expect(disposed.embed(three)).rejects.toThrow('The feature extractor for resnet50 is closed.');
});

test('extract() and embed() share one set of preprocessing workers across calls, closed once with the extractor', async () => {
  const folders = ['a', 'b'].map((name, k) => {
    const dir = path.join(work, `share-${name}`);
    fs.mkdirSync(dir);
    fs.copyFileSync(three[k]!, path.join(dir, path.basename(three[k]!)));
    return dir;
  });
  const closes = jest.spyOn(PreprocessPool.prototype, 'close');
  try {
    const fx = await featureExtractor('resnet50', { storeDir: STORE_DIR, device: 'cpu', workers: 1 });
    await fx.embed([three[2]!]);
    for (const [k, folder] of folders.entries()) {
      const summary = await fx.extract(folder, { cache: path.join(work, `share-cache-${k}`) });
      expect(summary).toMatchObject({ extracted: 1, failed: 0, preprocessing: 'workers' });
    }
    // no run closed the workers: each would otherwise start its own (≈ 0.1 s) and close them
    expect(closes).not.toHaveBeenCalled();
    await fx.close();
    expect(closes).toHaveBeenCalledTimes(1);
  } finally {
    closes.mockRestore();
  }
});

test('an unusable image throws naming its index and path, or is skipped with inputIndex mapping rows to inputs', async () => {
  const broken = path.join(work, 'broken.jpg');
  fs.writeFileSync(broken, 'this is not an image, just text that ends up named .jpg');
  const truncated = fs.readFileSync(three[0]!).subarray(0, 600);
  const fx = await featureExtractor('resnet50', { storeDir: STORE_DIR, device: 'cpu', workers: 0 });
  try {
    const error = await fx.embed([three[0]!, broken, truncated]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmbedError);
    const e = error as EmbedError;
    expect(e.message).toMatch(
      new RegExp(`^Cannot embed images\\[1\\] \\(${broken.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\): `),
    );
    expect(e.message).toContain('1 more of the 3 images failed too (error.failures lists them)');
    expect(e.message).toContain('pass { skipFailures: true } to embed the others.');
    expect(e.failures.map((f) => f.index)).toEqual([1, 2]);
    expect(e.failures[0]!.path).toBe(broken);
    expect(e.failures[1]!.path).toBeUndefined();

    const kept = await fx.embed([broken, three[1]!, truncated, three[2]!], { skipFailures: true });
    expect(kept.rows).toBe(2);
    expect(Array.from(kept.inputIndex)).toEqual([1, 3]);
    expect(kept.failures.map((f) => f.index)).toEqual([0, 2]);
    const alone = await fx.embed([three[1]!, three[2]!]);
    expect(Buffer.from(kept.data.buffer).equals(Buffer.from(alone.data.buffer))).toBe(true);

    expect((await fx.embed([])).rows).toBe(0);
    await expect(fx.embed('a.jpg' as unknown as string[])).rejects.toThrow(
      'Expected images to be an array of Buffers or file paths but received string',
    );
    await expect(fx.embed([three[0]!, 42 as unknown as string])).rejects.toThrow(
      'Expected images[1] to be a Buffer or a non-empty file path but received number',
    );
  } finally {
    await fx.close();
    await fx.close(); // twice is harmless
  }
});

test('options are checked at the door and named as the API names them', async () => {
  await expect(featureExtractor('resnet50', { storeDir: STORE_DIR, batchSize: 0 })).rejects.toThrow(
    'Expected batchSize to be an integer between 1 and 1024 but received 0',
  );
  await expect(featureExtractor('resnet50', { storeDir: STORE_DIR, workers: -1 })).rejects.toThrow(
    'Expected workers to be an integer between 0 and 64 but received -1',
  );
  await expect(featureExtractor('resnet50', { storeDir: STORE_DIR, device: 'gpu' })).rejects.toThrow(
    'Expected device to be auto, cpu, cuda or cuda:N but received "gpu"',
  );
  const fx = await featureExtractor('resnet50', { storeDir: STORE_DIR, device: 'cpu' });
  try {
    await expect(fx.extract(three[0]!, { cache: '' })).rejects.toThrow(
      'Expected cache to be a non-empty string but received ""',
    );
  } finally {
    await fx.close();
  }
});
