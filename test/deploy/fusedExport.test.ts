/**
 * The fused ONNX model against the library path it replaces: real photos → src/preprocess → a tiny backbone in ORT
 * → LinearClassifier.predictProba, versus the same photos as [0,1] RGB through the one exported graph.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { encodeModel, floatTensor, loadModel, makeModel, node, onnx, valueInfo } from '../../src/backbone/graph/proto';
import { LinearClassifier } from '../../src/linear';
import { toEmbeddings } from '../../src/util/embeddings';
import { KERAS_CAFFE, TORCHVISION_IMAGENET, type PreprocessSpec } from '../../src/preprocess';
import { buildFusedModel, exportFusedOnnx } from '../../src/deploy/fusedExport';
import { ConvfeatError, UsageError } from '../../src/util/errors';
import { tmpDir } from '../support/data';
import { fusedInputs, type FusedInputs } from '../support/fusedInputs';
import { seededRandom } from '../support/graphs';

const SIZE = 32;
const CHANNELS = 12;
const CLASSES = ['airplane', 'cat', 'flower'];

/** Conv(3→12, 3×3, stride 2) → Relu → GlobalAveragePool → Flatten → `embedding` [N, 12]; optionally NHWC input. */
function tinyBackbone(layout: 'NCHW' | 'NHWC', extraHead = false): onnx.ModelProto {
  const rand = seededRandom(11);
  const w = Float32Array.from({ length: CHANNELS * 3 * 9 }, () => (rand() - 0.5) * 0.4);
  const b = Float32Array.from({ length: CHANNELS }, () => (rand() - 0.5) * 0.2);
  const nodes: onnx.INodeProto[] = [];
  let x = 'input';
  if (layout === 'NHWC') {
    nodes.push(node('Transpose', [x], ['nchw'], { perm: [0, 3, 1, 2] }));
    x = 'nchw';
  }
  nodes.push(
    node('Conv', [x, 'conv.weight', 'conv.bias'], ['conv'], {
      kernel_shape: [3, 3],
      strides: [2, 2],
      pads: [1, 1, 1, 1],
    }),
    node('Relu', ['conv'], ['relu']),
    node('GlobalAveragePool', ['relu'], ['pool']),
    node('Flatten', ['pool'], ['embedding'], { axis: 1 }),
  );
  const inits = [floatTensor('conv.weight', [CHANNELS, 3, 3, 3], w), floatTensor('conv.bias', [CHANNELS], b)];
  const outputs = [valueInfo('embedding', ['batch', CHANNELS])];
  if (extraHead) {
    // A leftover ImageNet-style head the export must drop.
    inits.push(floatTensor('fc.weight', [CHANNELS, 5], new Float32Array(CHANNELS * 5).fill(0.1)));
    nodes.push(node('MatMul', ['embedding', 'fc.weight'], ['logits']));
    outputs.push(valueInfo('logits', ['batch', 5]));
  }
  const inputDims = layout === 'NCHW' ? ['batch', 3, SIZE, SIZE] : ['batch', SIZE, SIZE, 3];
  return makeModel({ name: 'tiny', nodes, inputs: [valueInfo('input', inputDims)], outputs, initializers: inits });
}

const small = (base: PreprocessSpec, extra: Partial<PreprocessSpec> = {}): PreprocessSpec => ({
  ...base,
  resize: { mode: 'shorter', size: 40 },
  crop: { height: SIZE, width: SIZE },
  ...extra,
});

const SPECS: Record<string, PreprocessSpec> = {
  'keras caffe (BGR, 0..255, mean)': small(KERAS_CAFFE),
  'torchvision (RGB, [0,1], mean/std)': small(TORCHVISION_IMAGENET),
  'NHWC, RGB, [0,1]': small(TORCHVISION_IMAGENET, { layout: 'NHWC' }),
};

/** The same photos twice: as the network's input (the spec) and as [0,1] RGB NCHW (the fused model's input). */
function loadPhotos(spec: PreprocessSpec, perClass: number): Promise<FusedInputs> {
  return fusedInputs(spec, 'train', CLASSES, perClass, 3 * SIZE * SIZE);
}

async function runModel(
  model: onnx.IModelProto,
  feeds: Record<string, ort.Tensor>,
): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(encodeModel(model));
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

function dimsFor(spec: PreprocessSpec, n: number): number[] {
  return spec.layout === 'NCHW' ? [n, 3, SIZE, SIZE] : [n, SIZE, SIZE, 3];
}

describe('exportFusedOnnx', () => {
  for (const [label, spec] of Object.entries(SPECS)) {
    describe(label, () => {
      let batch: FusedInputs;
      let embeddings: Float32Array;
      const backbone = tinyBackbone(spec.layout);

      beforeAll(async () => {
        batch = await loadPhotos(spec, 6);
        const out = await runModel(backbone, {
          input: new ort.Tensor('float32', batch.network, dimsFor(spec, batch.n)),
        });
        embeddings = out.embedding.data as Float32Array;
      });

      test.each([
        ['svm', 'l2'],
        ['svm', 'standard'],
        ['softmax', 'l2'],
        ['softmax', 'standard'],
      ] as const)(
        '%s with %s scaling: fused probabilities equal predictProba within 1e-5, labels agree',
        async (solver, scale) => {
          const clf = await new LinearClassifier({ solver, scale, C: 1, threads: 1 }).fit(
            toEmbeddings(embeddings, CHANNELS),
            batch.y,
            { classes: CLASSES, backbone: { fingerprint: 'a'.repeat(64), model: 'tiny' } },
          );
          if (solver === 'svm') expect(clf.temperature).not.toBe(1); // the temperature step is exercised
          const expected = clf.predictProba(embeddings, CHANNELS);
          const expectedLabels = clf.predict(embeddings, CHANNELS);
          const expectedScores = clf.decisionFunction(embeddings, CHANNELS);

          const { model, inputShape } = buildFusedModel({ backboneModel: backbone, spec, classifier: clf });
          expect(inputShape).toEqual(['batch', 3, SIZE, SIZE]);
          const out = await runModel(model, { image: new ort.Tensor('float32', batch.unit, [batch.n, 3, SIZE, SIZE]) });
          const probs = out.probabilities.data as Float32Array;
          const scores = out.scores.data as Float32Array;
          expect(out.probabilities.dims).toEqual([batch.n, CLASSES.length]);
          let worst = 0;
          for (let i = 0; i < probs.length; i++) worst = Math.max(worst, Math.abs(probs[i] - expected[i]));
          expect(worst).toBeLessThan(1e-5);
          for (let i = 0; i < scores.length; i++) expect(Math.abs(scores[i] - expectedScores[i])).toBeLessThan(1e-4);
          for (let i = 0; i < batch.n; i++) {
            const row = Array.from(probs.subarray(i * CLASSES.length, (i + 1) * CLASSES.length));
            expect(row.indexOf(Math.max(...row))).toBe(expectedLabels[i]);
          }
        },
      );
    });
  }

  test('writes one file with class names, fingerprint and version in its metadata, and drops a leftover head', async () => {
    const spec = SPECS['torchvision (RGB, [0,1], mean/std)'];
    const backbone = tinyBackbone('NCHW', true);
    const batch = await loadPhotos(spec, 3);
    const emb = (
      await runModel(backbone, { input: new ort.Tensor('float32', batch.network, [batch.n, 3, SIZE, SIZE]) })
    ).embedding.data as Float32Array;
    const clf = await new LinearClassifier({ solver: 'softmax', scale: 'l2', C: 1, threads: 1 }).fit(
      toEmbeddings(emb, CHANNELS),
      batch.y,
      { classes: CLASSES, backbone: { fingerprint: 'b'.repeat(64), model: 'tiny' } },
    );
    const out = path.join(tmpDir('fused'), 'classifier.onnx');
    const result = exportFusedOnnx({ backboneModel: backbone, spec, classifier: clf, out });
    expect(result.file).toBe(out);
    const saved = loadModel(out);
    const graph = saved.graph as onnx.GraphProto;
    const meta = Object.fromEntries(saved.metadataProps.map((p) => [p.key, p.value]));
    expect(JSON.parse(meta.classes)).toEqual(CLASSES);
    expect(meta.backbone_fingerprint).toBe('b'.repeat(64));
    expect(meta.convfeat_version).toMatch(/^\d+\.\d+\.\d+/);
    expect(JSON.parse(meta.preprocess)).toEqual(spec);
    expect(graph.output.map((o) => o.name)).toEqual(['probabilities', 'scores']);
    expect(graph.node.some((n) => n.opType === 'MatMul')).toBe(false);
    expect(graph.initializer.some((t) => t.name === 'backbone/fc.weight')).toBe(false);
    // The model the file holds runs, from its bytes, in a fresh session.
    const session = await ort.InferenceSession.create(out);
    const res = await session.run({ image: new ort.Tensor('float32', batch.unit, [batch.n, 3, SIZE, SIZE]) });
    await session.release();
    const expected = clf.predictProba(emb, CHANNELS);
    const got = res.probabilities.data as Float32Array;
    for (let i = 0; i < got.length; i++) expect(Math.abs(got[i] - expected[i])).toBeLessThan(1e-5);
  });

  describe('bad input', () => {
    const spec = SPECS['torchvision (RGB, [0,1], mean/std)'];
    let clf: LinearClassifier;
    beforeAll(async () => {
      const rand = seededRandom(3);
      const X = Float32Array.from({ length: 30 * CHANNELS }, () => rand());
      const y = Int32Array.from({ length: 30 }, (_, i) => i % 3);
      clf = await new LinearClassifier({ C: 1, scale: 'l2', threads: 1 }).fit(toEmbeddings(X, CHANNELS), y, {
        classes: CLASSES,
      });
    });

    test('a backbone without an embedding output is refused with a sentence', () => {
      const m = tinyBackbone('NCHW');
      const g = m.graph as onnx.GraphProto;
      g.output[0].name = 'features';
      g.node[g.node.length - 1].output = ['features'];
      expect(() => buildFusedModel({ backboneModel: m, spec, classifier: clf })).toThrow(UsageError);
      expect(() => buildFusedModel({ backboneModel: m, spec, classifier: clf })).toThrow(
        /no output named "embedding".*export a backbone cut at its embedding.*with layer,/,
      );
    });

    test('an embedding of another width than the classifier is refused', async () => {
      const other = await new LinearClassifier({ C: 1, scale: 'l2', threads: 1 }).fit(
        toEmbeddings(
          new Float32Array(30 * 4).map((_, i) => (i * 7919) % 13),
          4,
        ),
        Int32Array.from({ length: 30 }, (_, i) => i % 3),
      );
      expect(() => buildFusedModel({ backboneModel: tinyBackbone('NCHW'), spec, classifier: other })).toThrow(
        ConvfeatError,
      );
      expect(() => buildFusedModel({ backboneModel: tinyBackbone('NCHW'), spec, classifier: other })).toThrow(
        /12-d but the classifier expects 4-d/,
      );
    });

    test('an unfitted classifier, a bad spec and an unwritable path are refused', () => {
      expect(() =>
        buildFusedModel({ backboneModel: tinyBackbone('NCHW'), spec, classifier: new LinearClassifier() }),
      ).toThrow(/not fitted/);
      expect(() =>
        buildFusedModel({ backboneModel: tinyBackbone('NCHW'), spec: { ...spec, scale: 3 as 255 }, classifier: clf }),
      ).toThrow(/Expected spec.scale to be 1 or 255 but received 3/);
      // A regular file where a folder should be: unwritable even for root.
      const blocker = path.join(tmpDir('fused-bad'), 'not-a-dir');
      fs.writeFileSync(blocker, 'x');
      const out = path.join(blocker, 'x.onnx');
      expect(() => exportFusedOnnx({ backboneModel: tinyBackbone('NCHW'), spec, classifier: clf, out })).toThrow(
        /^Cannot write .*x\.onnx: .*not-a-dir is a file, not a folder; choose another location\.$/,
      );
    });
  });
});
