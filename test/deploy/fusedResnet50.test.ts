/**
 * The fused export with the real ResNet50: embeddings of real photos by the library path (src/preprocess → ORT
 * `embedding` output), a classifier fitted on them, then the single fused graph fed [0,1] RGB must give the same
 * probabilities within 1e-5 and the same label on every image.
 */
import * as ort from 'onnxruntime-node';
import { loadModel, encodeModel } from '../../src/backbone/graph/proto';
import { resolveModel } from '../../src/backbone/store/manifest';
import { LinearClassifier } from '../../src/linear';
import { toEmbeddings } from '../../src/util/embeddings';
import type { PreprocessSpec } from '../../src/preprocess';
import { buildFusedModel } from '../../src/deploy/fusedExport';
import { fusedInputs } from '../support/fusedInputs';
import { realResnet50 } from '../support/model';

const CLASSES = ['airplane', 'car', 'cat', 'dog', 'flower', 'fruit', 'motorbike', 'person'];
const PER_CLASS = 2;
const PIXELS = 3 * 224 * 224;

describe('fused ONNX export with the real ResNet50', () => {
  test('probabilities equal predictProba on the library embeddings within 1e-5; labels agree', async () => {
    const spec: PreprocessSpec = resolveModel('resnet50').preprocess;
    const { network, unit, y, n } = await fusedInputs(spec, 'test', CLASSES, PER_CLASS, PIXELS);
    const backbone = loadModel(await realResnet50());

    // The library path: the converted model's `embedding` output (its `probabilities` head is ignored).
    const session = await ort.InferenceSession.create(encodeModel(backbone));
    const embeddings = new Float32Array(n * 2048);
    for (let i = 0; i < n; i++) {
      const out = await session.run(
        { input: new ort.Tensor('float32', network.slice(i * PIXELS, (i + 1) * PIXELS), [1, 3, 224, 224]) },
        ['embedding'],
      );
      embeddings.set(out.embedding.data as Float32Array, i * 2048);
    }
    await session.release();

    for (const [solver, scale] of [
      ['svm', 'l2'],
      ['softmax', 'standard'],
    ] as const) {
      const clf = await new LinearClassifier({ solver, scale, C: 1, threads: 1 }).fit(
        toEmbeddings(embeddings, 2048),
        y,
        {
          classes: CLASSES,
        },
      );
      const expected = clf.predictProba(embeddings, 2048);
      const labels = clf.predict(embeddings, 2048);
      // buildFusedModel drops the ImageNet head itself (it keeps only what `embedding` depends on).
      const { model } = buildFusedModel({ backboneModel: backbone, spec, classifier: clf });
      const fused = await ort.InferenceSession.create(encodeModel(model));
      const probs = new Float32Array(n * CLASSES.length);
      for (let i = 0; i < n; i++) {
        const out = await fused.run({
          image: new ort.Tensor('float32', unit.slice(i * PIXELS, (i + 1) * PIXELS), [1, 3, 224, 224]),
        });
        probs.set(out.probabilities.data as Float32Array, i * CLASSES.length);
      }
      await fused.release();
      let worst = 0;
      for (let i = 0; i < probs.length; i++) worst = Math.max(worst, Math.abs(probs[i] - expected[i]));
      expect(worst).toBeLessThan(1e-5);
      for (let i = 0; i < n; i++) {
        const row = Array.from(probs.subarray(i * CLASSES.length, (i + 1) * CLASSES.length));
        expect(row.indexOf(Math.max(...row))).toBe(labels[i]);
      }
    }
  });
});
