/**
 * CPU cost of pinning onnxruntime-node to 1.29.0 (the release the npm-registry CUDA provider matches) instead of
 * 1.30: the same raw inference loop over the same pre-decoded tensors, each version in its own child process (two
 * ONNX Runtime cores cannot share one process: both are libonnxruntime.so.1), interleaved round by round with the
 * order alternating, so the machine's load drifts over both alike. Reports per-version medians and the median of the
 * per-round ratios.
 *
 * Usage (after npm run bench:build): node bench/out/js/bench/gpu/ort-versions.js [ROUNDS=5] [IMAGES=32] [BATCH=8]
 *   ORT_130=DIR points at an onnxruntime-node 1.30 folder, e.g. `(cd /tmp/ort130 && ONNXRUNTIME_NODE_INSTALL=skip npm i
 *   onnxruntime-node@1.30.0)` and ORT_130=/tmp/ort130/node_modules/onnxruntime-node (package.json's overrides make
 *   transformers.js share the project's 1.29.0, since two ONNX Runtime cores cannot load in one process).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..', '..');
const MODEL = path.join(ROOT, 'onnx', 'resnet50.onnx');
const DATA = process.env.CONVFEAT_DATA ?? path.join(ROOT, '..', 'shared', 'data', 'mini_natural_images');

/** The child: loads one onnxruntime-node, times `session.run` over the tensors, prints images/s. */
const CHILD = `
const ort = require(process.argv[1]);
const fs = require('fs');
const [model, tensors, n, batch, threads] = process.argv.slice(2);
(async () => {
  const s = await ort.InferenceSession.create(model, { intraOpNumThreads: +threads, interOpNumThreads: 1,
    graphOptimizationLevel: 'all', executionMode: 'sequential', executionProviders: ['cpu'],
    extra: { session: { intra_op: { allow_spinning: '0' } } } });
  const all = new Float32Array(fs.readFileSync(tensors).buffer.slice(0));
  const per = all.length / +n;
  const feeds = [];
  for (let i = 0; i < +n; i += +batch) {
    const k = Math.min(+batch, +n - i);
    feeds.push(new ort.Tensor('float32', all.slice(i * per, (i + k) * per), [k, 3, 224, 224]));
  }
  await s.run({ [s.inputNames[0]]: feeds[0] });
  const t0 = process.hrtime.bigint();
  for (const f of feeds) await s.run({ [s.inputNames[0]]: f });
  const sec = Number(process.hrtime.bigint() - t0) / 1e9;
  const version = require(require('path').join(process.argv[1], 'package.json')).version;
  process.stdout.write(JSON.stringify({ version, imagesPerSecond: +n / sec }));
})();
`;

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  const [rounds = 5, images = 32, batch = 8] = process.argv.slice(2).map(Number);
  const pinned = path.join(ROOT, 'node_modules', 'onnxruntime-node');
  const newer =
    process.env.ORT_130 ??
    path.join(ROOT, 'node_modules', '@huggingface', 'transformers', 'node_modules', 'onnxruntime-node');
  const versions = [pinned, newer].map(
    (d) => (JSON.parse(fs.readFileSync(path.join(d, 'package.json'), 'utf8')) as { version: string }).version,
  );
  if (versions[0] === versions[1]) throw new Error(`both folders hold onnxruntime-node ${versions[0]}; set ORT_130`);
  // The same real photos, preprocessed once by convfeat's own pipeline, for both versions.
  const { PreprocessPool } = require(
    path.join(ROOT, 'dist', 'preprocess', 'pool'),
  ) as typeof import('../../src/preprocess/pool');
  const { KERAS_CAFFE } = require(
    path.join(ROOT, 'dist', 'preprocess', 'spec'),
  ) as typeof import('../../src/preprocess/spec');
  const files: string[] = [];
  for (const cls of fs.readdirSync(path.join(DATA, 'test')).sort())
    for (const f of fs
      .readdirSync(path.join(DATA, 'test', cls))
      .sort()
      .slice(0, Math.ceil(images / 8)))
      files.push(path.join(DATA, 'test', cls, f));
  const pool = new PreprocessPool({ threads: 1, opts: { spec: KERAS_CAFFE, exif: 'apply' } });
  const tensors = await Promise.all(files.slice(0, images).map(async (f) => pool.run(fs.readFileSync(f))));
  await pool.close();
  const blob = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'convfeat-ortv-')), 'tensors.f32');
  const joined = new Float32Array(tensors.length * tensors[0]!.length);
  tensors.forEach((t, i) => joined.set(t, i * t.length));
  fs.writeFileSync(blob, Buffer.from(joined.buffer));
  const threads = String(os.availableParallelism());

  const rates: Record<string, number[]> = { [versions[0]!]: [], [versions[1]!]: [] };
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? [pinned, newer] : [newer, pinned];
    const got: Record<string, number> = {};
    for (const dir of order) {
      const c = spawnSync(
        process.execPath,
        ['-e', CHILD, dir, MODEL, blob, String(tensors.length), String(batch), threads],
        {
          encoding: 'utf8',
        },
      );
      if (c.status !== 0) throw new Error(`child for ${dir} failed: ${c.stderr}`);
      const res = JSON.parse(c.stdout) as { version: string; imagesPerSecond: number };
      got[res.version] = res.imagesPerSecond;
      rates[res.version]!.push(res.imagesPerSecond);
    }
    ratios.push(got[versions[0]!]! / got[versions[1]!]!);
    process.stdout.write(`round ${r + 1}: ${versions.map((v) => `${v} ${got[v]!.toFixed(1)} img/s`).join(', ')}\n`);
  }
  fs.rmSync(path.dirname(blob), { recursive: true, force: true });
  const summary = {
    images: tensors.length,
    batch,
    threads: Number(threads),
    rounds,
    medians: Object.fromEntries(versions.map((v) => [v, +median(rates[v]!).toFixed(2)])),
    ratio: +median(ratios).toFixed(3),
    ratioOf: `${versions[0]} / ${versions[1]}`,
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`ort-versions: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
