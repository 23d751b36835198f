/**
 * Issue 6, "against other pipelines": the same ResNet50 ONNX on the same photos through
 *   raw          a bare onnxruntime `session.run` loop over tensors decoded beforehand (the limit),
 *   convfeat     extractDataset into a fresh cache (read, hash, decode in workers, infer, store),
 *   transformers @huggingface/transformers (transformers.js) `image-feature-extraction` pipeline from a local model
 *                folder (decode, resize, crop and normalise in transformers.js, infer, return the embeddings),
 * each repetition timing all three back to back in a rotating order; ratios are medians of per-repetition ratios.
 *
 * The transformers.js model folder is made here from convfeat's own cut graph: the same bytes behind two Identity
 * nodes (`pixel_values` in, `pooler_output` out, the names its ResNetModel expects), a `resnet` config, and a
 * ConvNextImageProcessor config doing what convfeat's manifest says for this network: shorter side to 256
 * (224 / crop_pct 0.875), centre crop 224, no rescale, minus the caffe mean, RGB→BGR. So the two pipelines differ
 * only in how they decode, resize and batch, which is what is being compared.
 *
 * --probe also embeds every photo of the data set with transformers.js and fits the same linear SVM (C chosen on val,
 * features unscaled, as the demo) on each pipeline's embeddings, reporting test accuracy for both: whether the
 * resampling differences cost accuracy.
 *
 * Usage: node <compiled>/bench/peers/extract.js [--n 200] [--repeats 3] [--batch 8] [--threads 2] [--probe]
 *        [--cache DIR (convfeat cache of the whole data set for --probe; extracted into a temp folder if absent)]
 *        [--json FILE]
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import type { OpenBackbone } from '../../src/backbone/load';
import type { Dataset, DatasetItem } from '../../src/dataset';
import {
  DATA_ROOT,
  flag,
  fromDist,
  intFlag,
  machineLine,
  requireDataRoot,
  runMain,
  writeSummary,
  median,
  sampleDistinct,
  tempDir,
} from '../extract/common';

const { openBackbone, prepareBackbone } = fromDist<typeof import('../../src/backbone/load')>('backbone/load');
const proto = fromDist<typeof import('../../src/backbone/graph/proto')>('backbone/graph/proto');
const { extractDataset } = fromDist<typeof import('../../src/cache/extract')>('cache/extract');
const { loadSplit } = fromDist<typeof import('../../src/cache/load')>('cache/load');
const { scanDataset } = fromDist<typeof import('../../src/dataset')>('dataset/index');
const { preprocess } = fromDist<typeof import('../../src/preprocess')>('preprocess/index');
const { LinearClassifier } = fromDist<typeof import('../../src/linear')>('linear/index');
const { accuracy } = fromDist<typeof import('../../src/report/metrics')>('report/metrics');

type Extractor = (images: string[], options: { pool: boolean }) => Promise<{ data: Float32Array; dims: number[] }>;

/** convfeat's cut graph wrapped for transformers.js: Identity in (pixel_values) and out (pooler_output). */
function writeTransformersModel(root: string, cutBytes: Uint8Array): string {
  const model = proto.decodeModel(cutBytes, 'the cut ResNet50');
  const graph = model.graph!;
  const input = graph.input!.find((v) => !(graph.initializer ?? []).some((t) => t.name === v.name))!;
  const embedding = graph.output![0]!;
  const dims = proto.dimsOf(input);
  graph.node!.unshift(proto.node('Identity', ['pixel_values'], [input.name!], {}, 'convfeat_bench_in'));
  graph.node!.push(proto.node('Identity', [embedding.name!], ['pooler_output'], {}, 'convfeat_bench_out'));
  graph.input = [proto.valueInfo('pixel_values', dims), ...graph.input!.filter((v) => v !== input)];
  graph.output = [proto.valueInfo('pooler_output', proto.dimsOf(embedding))];
  const dir = path.join(root, 'convfeat-resnet50');
  fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  proto.saveModel(path.join(dir, 'onnx', 'model.onnx'), model);
  fs.writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({
      model_type: 'resnet',
      architectures: ['ResNetModel'],
      num_channels: 3,
      hidden_sizes: [256, 512, 1024, 2048],
    }),
  );
  fs.writeFileSync(
    path.join(dir, 'preprocessor_config.json'),
    JSON.stringify({
      image_processor_type: 'ConvNextImageProcessor',
      do_convert_rgb: true,
      do_resize: true,
      size: { shortest_edge: 224 },
      crop_pct: 0.875,
      resample: 2,
      do_rescale: false,
      do_normalize: true,
      image_mean: [123.68, 116.779, 103.939],
      image_std: [1, 1, 1],
      do_flip_channel_order: true,
    }),
  );
  return 'convfeat-resnet50';
}

async function openTransformers(root: string, name: string, threads: number): Promise<Extractor> {
  const tjs = await import('@huggingface/transformers');
  tjs.env.allowRemoteModels = false;
  tjs.env.allowLocalModels = true;
  tjs.env.localModelPath = root;
  tjs.env.useFSCache = false;
  const pipe = await tjs.pipeline('image-feature-extraction', name, {
    dtype: 'fp32',
    device: 'cpu',
    session_options: { intraOpNumThreads: threads, interOpNumThreads: 1 },
  });
  return pipe as unknown as Extractor;
}

async function transformersEmbed(extractor: Extractor, paths: string[], batch: number): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let i = 0; i < paths.length; i += batch) {
    const t = await extractor(paths.slice(i, i + batch), { pool: true });
    const dim = t.dims[t.dims.length - 1]!;
    for (let j = 0; j * dim < t.data.length; j++) out.push(t.data.slice(j * dim, (j + 1) * dim));
  }
  return out;
}

async function rawLoop(backbone: OpenBackbone, tensors: Float32Array[], batch: number): Promise<Float32Array[]> {
  const h = await backbone.session();
  const dims = h.inputShape.slice(1).map((d) => (typeof d === 'number' ? d : 224));
  const per = tensors[0]!.length;
  const out: Float32Array[] = [];
  for (let i = 0; i < tensors.length; i += batch) {
    const n = Math.min(batch, tensors.length - i);
    const data = new Float32Array(n * per);
    for (let j = 0; j < n; j++) data.set(tensors[i + j]!, j * per);
    const result = await h.session.run({ [h.inputName]: new ort.Tensor('float32', data, [n, ...dims]) }, [
      h.outputName,
    ]);
    const e = result[h.outputName]!.data as Float32Array;
    const dim = e.length / n;
    for (let j = 0; j < n; j++) out.push(e.slice(j * dim, (j + 1) * dim));
  }
  return out;
}

async function convfeatExtract(
  backbone: OpenBackbone,
  dataset: Dataset,
  batch: number,
  cacheDir: string,
): Promise<void> {
  const summary = await extractDataset(dataset, backbone, { cacheDir, batchSize: batch });
  if (summary.extracted + summary.duplicates !== dataset.items.length) {
    throw new Error(
      `convfeat extracted ${summary.extracted} of ${dataset.items.length} photos (${summary.failed} failed)`,
    );
  }
}

async function seconds(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function agreement(a: Float32Array[], b: Float32Array[]): { maxAbs: number; meanCosine: number; minCosine: number } {
  let maxAbs = 0;
  const cosines: number[] = [];
  for (let i = 0; i < a.length; i++) {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let k = 0; k < a[i]!.length; k++) {
      const x = a[i]![k]!;
      const y = b[i]![k]!;
      maxAbs = Math.max(maxAbs, Math.abs(x - y));
      dot += x * y;
      na += x * x;
      nb += y * y;
    }
    cosines.push(dot / Math.sqrt(na * nb));
  }
  return { maxAbs, meanCosine: cosines.reduce((s, c) => s + c, 0) / cosines.length, minCosine: Math.min(...cosines) };
}

function stack(rows: Float32Array[]): Float32Array {
  const dim = rows[0]!.length;
  const X = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => X.set(r, i * dim));
  return X;
}

interface ProbeResult {
  testAccuracy: number;
  testCorrect: number;
  testImages: number;
  C: number;
}

async function probe(
  X: Record<string, Float32Array>,
  y: Record<string, Int32Array>,
  dim: number,
  classes: string[],
): Promise<ProbeResult> {
  const clf = new LinearClassifier({ solver: 'svm', scale: 'none' });
  const rows = (data: Float32Array) => ({ data, rows: data.length / dim, dim });
  await clf.fit(rows(X.train!), y.train!, { classes, val: { X: rows(X.val!), y: y.val! } });
  const predicted = clf.predict(rows(X.test!));
  const correct = Math.round(accuracy(y.test!, predicted) * predicted.length);
  return { testAccuracy: correct / predicted.length, testCorrect: correct, testImages: predicted.length, C: clf.C };
}

async function main(): Promise<void> {
  const n = intFlag('n', 200);
  const reps = intFlag('repeats', 3);
  const batch = intFlag('batch', 8);
  const threads = intFlag('threads', Math.min(2, os.availableParallelism()));
  const wantProbe = process.argv.includes('--probe');
  const jsonOut = flag('json') ?? '';
  console.log(machineLine());

  const full = await scanDataset(requireDataRoot());
  const items: DatasetItem[] = sampleDistinct(full.items, n);
  const sample: Dataset = { ...full, items, problems: [] };
  const paths = items.map((i) => i.path);
  const prepared = await prepareBackbone({ model: 'resnet50' });
  const work = tempDir('convfeat-bench-peers-');
  try {
    const modelName = writeTransformersModel(work, prepared.cutBytes());
    const extractor = await openTransformers(work, modelName, threads);
    // exif 'ignore': torchvision and transformers.js both ignore EXIF orientation, so all three see the same pixels.
    const backbone = await openBackbone(prepared, { device: 'cpu', threads, exif: 'ignore' });
    const tensors: Float32Array[] = [];
    for (const p of paths) tensors.push(await preprocess(fs.readFileSync(p), backbone.transform));

    // Warm-up: each pipeline's first batch allocates; the embeddings also give the agreement figures.
    const rawEmb = await rawLoop(backbone, tensors, batch);
    const tjsEmb = await transformersEmbed(extractor, paths, batch);
    const agree = agreement(rawEmb, tjsEmb);
    console.log(
      `resnet50 (${prepared.layer}, ${rawEmb[0]!.length}-d), ${items.length} distinct photos, batch ${batch}, ${threads} onnxruntime threads, ${reps} repetitions`,
    );
    console.log(
      `embeddings, transformers.js vs convfeat: max |Δ| ${agree.maxAbs.toFixed(3)}, cosine mean ${agree.meanCosine.toFixed(5)} (min ${agree.minCosine.toFixed(5)})`,
    );

    const times: Record<'raw' | 'convfeat' | 'transformers', number[]> = { raw: [], convfeat: [], transformers: [] };
    const runs: Record<keyof typeof times, () => Promise<unknown>> = {
      raw: () => rawLoop(backbone, tensors, batch),
      convfeat: async () => {
        const cacheDir = fs.mkdtempSync(path.join(work, 'cache-'));
        try {
          await convfeatExtract(backbone, sample, batch, cacheDir);
        } finally {
          fs.rmSync(cacheDir, { recursive: true, force: true });
        }
      },
      transformers: () => transformersEmbed(extractor, paths, batch),
    };
    const order: Array<keyof typeof times> = ['raw', 'convfeat', 'transformers'];
    for (let r = 0; r < reps; r++) {
      for (let k = 0; k < order.length; k++) {
        const which = order[(k + r) % order.length]!;
        times[which].push(await seconds(runs[which]));
      }
    }
    const rate = (key: keyof typeof times) => median(times[key].map((s) => items.length / s));
    const ratio = (a: keyof typeof times, b: keyof typeof times) => times[a].map((s, i) => times[b][i]! / s);
    const rows = [
      ['raw onnxruntime loop (pre-decoded tensors)', rate('raw'), [1]],
      ['convfeat extract (fresh cache)', rate('convfeat'), ratio('convfeat', 'raw')],
      ['transformers.js image-feature-extraction', rate('transformers'), ratio('transformers', 'raw')],
    ] as const;
    console.log('pipeline                                    | img/s median | vs raw median (per repetition)');
    for (const [label, r, ratios] of rows) {
      console.log(
        `${label.padEnd(43)} | ${r.toFixed(1).padStart(12)} | ${median(ratios).toFixed(3)} (${ratios.map((x) => x.toFixed(2)).join(' ')})`,
      );
    }
    const cvt = ratio('convfeat', 'transformers');
    console.log(
      `convfeat / transformers.js throughput: ${median(cvt).toFixed(2)}× (per repetition ${cvt.map((x) => x.toFixed(2)).join(' ')})`,
    );

    let probes: { convfeat: ProbeResult; transformers: ProbeResult } | undefined;
    if (wantProbe) {
      let cacheDir = flag('cache') ?? '';
      if (!cacheDir || !fs.existsSync(cacheDir)) {
        cacheDir = path.join(work, 'probe-cache');
        console.log(`probe: extracting all ${full.items.length} photos with convfeat into a temporary cache…`);
        await convfeatExtract(backbone, full, batch, cacheDir);
      }
      const X: Record<string, Float32Array> = {};
      const y: Record<string, Int32Array> = {};
      const tX: Record<string, Float32Array> = {};
      let dim = 0;
      let classes: string[] = [];
      for (const split of ['train', 'val', 'test']) {
        const data = loadSplit(cacheDir, split);
        X[split] = data.X;
        y[split] = data.y;
        dim = data.dim;
        classes = data.classes;
        console.log(`probe: transformers.js embedding the ${data.paths.length} ${split} photos…`);
        tX[split] = stack(await transformersEmbed(extractor, data.paths, batch));
      }
      probes = { convfeat: await probe(X, y, dim, classes), transformers: await probe(tX, y, dim, classes) };
      for (const [label, p] of Object.entries(probes)) {
        console.log(
          `probe: ${label.padEnd(12)} linear SVM (C on val: ${p.C}) test accuracy ${(100 * p.testAccuracy).toFixed(2)} % (${p.testCorrect}/${p.testImages})`,
        );
      }
    }
    if (jsonOut) {
      const summary = {
        date: new Date().toISOString(),
        machine: machineLine(),
        photos: items.length,
        batch,
        threads,
        repetitions: reps,
        seconds: times,
        imagesPerSecond: { raw: rate('raw'), convfeat: rate('convfeat'), transformers: rate('transformers') },
        vsRaw: { convfeat: median(ratio('convfeat', 'raw')), transformers: median(ratio('transformers', 'raw')) },
        convfeatOverTransformers: median(cvt),
        agreement: agree,
        probe: probes ?? null,
      };
      writeSummary(jsonOut, summary);
    }
    await backbone.close();
    await (extractor as unknown as { dispose?: () => Promise<void> }).dispose?.();
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  console.log(machineLine());
}

runMain(main);
