/**
 * The converted ResNet50 must compute what the original TF.js model computes: the same model.json + weights run by
 * tfjs-layers on the pure-JS CPU backend and the store's converted onnx/resnet50.onnx run by onnxruntime, on the
 * same real photos, agree to 1e-4 on the 2048-d embedding, and the ImageNet top-5 labels make sense.
 */
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { loadModel } from '../../src/backbone/graph/proto';
import { photos } from '../support/data';
import { realResnet50, realResnet50Keras } from '../support/model';

// Production mode silences tfjs's "install tfjs-node" banner; the pure-JS backend is the reference here.
tf.env().set('PROD', true);

const SIZE = 224;
const CAFFE_BGR_MEAN = [103.939, 116.779, 123.68];

/** A fixed, simple pipeline (squash to 224×224, BGR, minus mean) giving the same pixels to both runtimes. */
async function caffeInputs(files: string[]): Promise<{ nhwc: Float32Array; nchw: Float32Array }> {
  const plane = SIZE * SIZE;
  const nhwc = new Float32Array(files.length * plane * 3);
  const nchw = new Float32Array(files.length * plane * 3);
  for (const [n, file] of files.entries()) {
    const rgb = await sharp(file).removeAlpha().resize(SIZE, SIZE, { fit: 'fill', kernel: 'linear' }).raw().toBuffer();
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < 3; c++) {
        const v = rgb[i * 3 + (2 - c)]! - CAFFE_BGR_MEAN[c]!; // channel c of BGR is RGB channel 2 - c
        nhwc[(n * plane + i) * 3 + c] = v;
        nchw[(n * 3 + c) * plane + i] = v;
      }
    }
  }
  return { nhwc, nchw };
}

async function loadTfjs(modelDir: string): Promise<tfl.LayersModel> {
  const json = JSON.parse(fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8'));
  const groups = json.weightsManifest as Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
  const bytes = Buffer.concat(groups.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(modelDir, p)))));
  const weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
  return tfl.loadLayersModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: groups.flatMap((g) => g.weights), weightData }),
  );
}

function top5(probs: Float32Array, row: number, labels: string[]): string[] {
  const slice = Array.from(probs.subarray(row * 1000, (row + 1) * 1000));
  return slice
    .map((p, i) => [p, i] as const)
    .sort((a, b) => b[0] - a[0])
    .slice(0, 5)
    .map(([, i]) => labels[i]!);
}

const PLAUSIBLE: Record<string, string[]> = {
  airplane: ['airliner', 'warplane', 'wing', 'airship', 'space_shuttle', 'aircraft_carrier', 'projectile', 'missile'],
  car: [
    'sports_car',
    'convertible',
    'car_wheel',
    'passenger_car',
    'racer',
    'beach_wagon',
    'cab',
    'minivan',
    'limousine',
    'jeep',
    'pickup',
    'grille',
    'Model_T',
    'police_van',
  ],
  cat: ['tabby', 'tiger_cat', 'Egyptian_cat', 'Persian_cat', 'Siamese_cat', 'lynx'],
  motorbike: ['moped', 'motor_scooter', 'crash_helmet', 'disk_brake', 'mountain_bike', 'racer', 'go-kart'],
};

describe('ResNet50 TF.js → ONNX conversion parity', () => {
  test('onnxruntime on the converted model matches tfjs-layers on the original within 1e-4 on real photos', async () => {
    await tf.setBackend('cpu');
    const onnxFile = await realResnet50();
    const { modelDir, labels } = await realResnet50Keras();
    expect(labels).toHaveLength(1000);
    const classes = Object.keys(PLAUSIBLE);
    const files = classes.map((cls) => photos('test', cls, 1)[0]!);
    const { nhwc, nchw } = await caffeInputs(files);

    const keras = await loadTfjs(modelDir);
    const probe = tfl.model({
      inputs: keras.inputs,
      outputs: [keras.getLayer('avg_pool').output as tfl.SymbolicTensor, keras.outputs[0]!],
    });
    const [tfEmbedding, tfProbs] = tf.tidy(() => {
      const outs = probe.predict(tf.tensor4d(nhwc, [files.length, SIZE, SIZE, 3])) as tf.Tensor[];
      return outs.map((t) => t.dataSync() as Float32Array);
    }) as [Float32Array, Float32Array];

    const meta = Object.fromEntries((loadModel(onnxFile).metadataProps ?? []).map((p) => [p.key, p.value]));
    expect(meta['convfeat.embedding_layer']).toBe('avg_pool');
    const session = await ort.InferenceSession.create(onnxFile);
    expect(session.inputNames).toEqual(['input']);
    const out = await session.run({ input: new ort.Tensor('float32', nchw, [files.length, 3, SIZE, SIZE]) });
    expect(out.embedding!.dims).toEqual([files.length, 2048]);
    expect(out.probabilities!.dims).toEqual([files.length, 1000]);
    const embedding = out.embedding!.data as Float32Array;
    const probs = out.probabilities!.data as Float32Array;

    let maxDiff = 0;
    let maxAbs = 0;
    for (let i = 0; i < embedding.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(embedding[i]! - tfEmbedding[i]!));
      maxAbs = Math.max(maxAbs, Math.abs(tfEmbedding[i]!));
    }
    let maxProbDiff = 0;
    for (let i = 0; i < probs.length; i++) maxProbDiff = Math.max(maxProbDiff, Math.abs(probs[i]! - tfProbs[i]!));
    const seen = classes.map((cls, n) => `${cls}: ${top5(probs, n, labels).join(', ')}`);
    process.stderr.write(
      `parity: max |Δ| embedding ${maxDiff.toExponential(2)} (max |x| ${maxAbs.toFixed(2)}), probabilities ${maxProbDiff.toExponential(2)}\n${seen.join('\n')}\n`,
    );

    expect(maxAbs).toBeGreaterThan(1); // a dead (all-zero) embedding would make the comparison vacuous
    expect(maxDiff).toBeLessThanOrEqual(1e-4);
    expect(maxProbDiff).toBeLessThanOrEqual(1e-4);
    classes.forEach((cls, n) => {
      const tfTop = top5(tfProbs, n, labels);
      expect(top5(probs, n, labels)[0]).toBe(tfTop[0]);
      expect(top5(probs, n, labels).some((label) => PLAUSIBLE[cls]!.includes(label))).toBe(true);
    });
  });
});
