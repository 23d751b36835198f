/**
 * The deployable classifier: one ONNX graph from a [0,1] RGB image to class probabilities, so that any ONNX Runtime
 * (Python, browser, mobile) can run it without convfeat.
 *
 *   image [N,3,H,W] ─ ×255 (when the network wants 0..255) ─ channel reorder ─ (x − mean) / std ─ (NHWC transpose)
 *     ─ backbone (its nodes and weights, names prefixed) ─ embedding ─ scaler ─ Gemm(W, b) ─ scores
 *     ─ ÷ temperature ─ Softmax ─ probabilities [N,K]
 *
 * Each step repeats, in float32, exactly what src/preprocess/transform.ts and src/linear (scaler.ts, calibration.ts)
 * compute, so the fused model's probabilities equal `predictProba` on the cached embeddings up to float rounding.
 * Resizing and cropping stay outside: the caller feeds images already resized and cropped as the spec says (the spec
 * is in the model's metadata).
 */
import { param } from '../util/params';
import * as fs from 'fs';
import { ConvfeatError, UsageError } from '../util/errors';
import { invalid, nonEmptyString } from '../util/validate';
import { floatTensor, int64Tensor, makeModel, node, onnx, saveModel, valueInfo, dimsOf } from '../backbone/graph/proto';
import { EMBEDDING_OUTPUT, pruneToOutput } from '../backbone/graph/cut';
import { outputSize, type PreprocessSpec } from '../preprocess/spec';
import { validateSpec } from '../preprocess/options';
import type { LinearClassifier } from '../linear';
import { convfeatVersion } from '../util/version';

/** The tensor a cut backbone exposes. */
const EMBEDDING = EMBEDDING_OUTPUT;
const PREFIX = 'backbone/';
/** Smallest normal float32: an all-zero embedding divides to 0, as the l2 scaler leaves it, instead of NaN. */
const L2_FLOOR = 1.1754943508222875e-38;

export interface FusedExportOptions {
  /** A backbone with one image input and an `embedding` output [N, D] (other outputs are dropped). */
  backboneModel: onnx.IModelProto;
  spec: PreprocessSpec;
  classifier: LinearClassifier;
  /** Backbone fingerprint for the metadata (default: the one the classifier records). */
  backboneFingerprint?: string;
}

export interface FusedModel {
  model: onnx.ModelProto;
  /** [batch, 3, H, W]; batch is a symbolic name unless the backbone fixes it. */
  inputShape: Array<number | string>;
  classes: string[];
}

type Dims = Array<number | string>;

/** Applies `rename` to every tensor and node name in a graph and its subgraphs (If/Loop bodies). */
function renameGraph(g: onnx.IGraphProto, rename: (s: string) => string): onnx.IGraphProto {
  const vi = (v: onnx.IValueInfoProto): onnx.IValueInfoProto => ({ ...v, name: rename(v.name ?? '') });
  return {
    ...g,
    node: (g.node ?? []).map((n) => renameNode(n, rename)),
    input: (g.input ?? []).map(vi),
    output: (g.output ?? []).map(vi),
    valueInfo: (g.valueInfo ?? []).map(vi),
    initializer: (g.initializer ?? []).map((t) => ({ ...t, name: rename(t.name ?? '') })),
  };
}

function renameNode(n: onnx.INodeProto, rename: (s: string) => string): onnx.INodeProto {
  return {
    ...n,
    name: n.name ? rename(n.name) : n.name,
    // An empty name marks an omitted optional input; it must stay empty.
    input: (n.input ?? []).map((s) => (s ? rename(s) : s)),
    output: (n.output ?? []).map((s) => (s ? rename(s) : s)),
    attribute: (n.attribute ?? []).map((a) => ({
      ...a,
      ...(a.g ? { g: renameGraph(a.g, rename) } : {}),
      ...(a.graphs && a.graphs.length ? { graphs: a.graphs.map((sg) => renameGraph(sg, rename)) } : {}),
    })),
  };
}

function defaultOpset(model: onnx.IModelProto): number {
  const entry = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  return entry ? Number(entry.version) : 0;
}

/** Reads the backbone's image input and embedding output, refusing graphs the fused model cannot wrap. */
function backboneShape(
  model: onnx.IModelProto,
  spec: PreprocessSpec,
  clf: LinearClassifier,
): { input: string; dims: Dims; D: number | null } {
  const g = model.graph;
  if (!g || !(g.node ?? []).length) throw invalid('backboneModel', 'an ONNX model with a graph', model);
  const weights = new Set((g.initializer ?? []).map((t) => t.name));
  const inputs = (g.input ?? []).filter((v) => !weights.has(v.name));
  if (inputs.length !== 1) {
    throw new UsageError(
      `The backbone has ${inputs.length} inputs (${inputs.map((v) => v.name).join(', ')}); the fused export needs a model with one image input.`,
    );
  }
  const out = (g.output ?? []).find((o) => o.name === EMBEDDING);
  if (!out) {
    throw new UsageError(
      `The backbone has no output named "${EMBEDDING}" (it has ${(g.output ?? []).map((o) => o.name).join(', ')}); export a backbone cut at its embedding (prepareBackbone does this; pick another tensor with ${param('layer')}, see convfeat models inspect).`,
    );
  }
  const dims = dimsOf(inputs[0]);
  if (dims.length !== 4)
    throw new UsageError(
      `The backbone's input ${inputs[0].name} has ${dims.length} dimensions; the fused export needs an image tensor [N, 3, H, W] or [N, H, W, 3].`,
    );
  const channelAxis = spec.layout === 'NCHW' ? 1 : 3;
  if (typeof dims[channelAxis] === 'number' && dims[channelAxis] !== 3) {
    throw new UsageError(
      `The backbone's input has ${dims[channelAxis]} channels on axis ${channelAxis}, but the ${spec.layout} preprocessing feeds 3; check the model's layout.`,
    );
  }
  const outDims = dimsOf(out);
  const D = outDims.length === 2 && typeof outDims[1] === 'number' ? outDims[1] : null;
  if (D !== null && D !== clf.dim) {
    throw new ConvfeatError(
      `The backbone's embedding is ${D}-d but the classifier expects ${clf.dim}-d embeddings; export with the backbone the classifier was trained on.`,
    );
  }
  return { input: inputs[0].name as string, dims, D };
}

/** Builds the fused graph in memory (no file written). */
export function buildFusedModel(options: FusedExportOptions): FusedModel {
  if (!options || typeof options !== 'object') throw invalid('fused export options', 'an object', options);
  const { backboneModel, classifier: clf } = options;
  const spec = validateSpec(options.spec, 'spec');
  if (!clf || typeof clf.predictProba !== 'function') throw invalid('classifier', 'a LinearClassifier', clf);
  if (!clf.fitted) throw new ConvfeatError('The classifier is not fitted yet; fit or load one before exporting.');
  const { input, dims } = backboneShape(backboneModel, spec, clf);

  const nchw = spec.layout === 'NCHW';
  const size = outputSize(spec);
  const H = dims[nchw ? 2 : 1];
  const W = dims[nchw ? 3 : 2];
  const height = typeof H === 'number' ? H : size?.height;
  const width = typeof W === 'number' ? W : size?.width;
  if (height === undefined || width === undefined) {
    throw new UsageError(
      'Neither the backbone nor the preprocessing spec fixes the image size; give the spec a crop or an exact resize.',
    );
  }
  const batch =
    typeof dims[0] === 'number' && dims[0] > 0
      ? dims[0]
      : typeof dims[0] === 'string' && dims[0] !== '?'
        ? dims[0]
        : 'batch';
  const inputShape: Dims = [batch, 3, height, width];

  const opset = defaultOpset(backboneModel);
  const nodes: onnx.INodeProto[] = [];
  const inits: onnx.ITensorProto[] = [];
  const K = clf.classes.length;
  const D = clf.dim;

  // Preprocessing: the same float32 steps, in the same order, as normalisationTable (transform.ts).
  let x = 'image';
  const step = (op: string, extra: string[], out: string, attrs: Record<string, number | number[]> = {}): void => {
    nodes.push(node(op, [x, ...extra], [out], attrs, `preprocess/${out}`));
    x = out;
  };
  if (spec.scale === 1) {
    inits.push(floatTensor('preprocess/to_0_255', [], [255]));
    step('Mul', ['preprocess/to_0_255'], 'preprocess/pixels');
  }
  if (spec.channelOrder === 'BGR') {
    inits.push(int64Tensor('preprocess/bgr_order', [3], [2, 1, 0]));
    step('Gather', ['preprocess/bgr_order'], 'preprocess/reordered', { axis: 1 });
  }
  if (spec.mean.some((m) => m !== 0)) {
    inits.push(floatTensor('preprocess/mean', [1, 3, 1, 1], spec.mean));
    step('Sub', ['preprocess/mean'], 'preprocess/centred');
  }
  if (spec.std.some((s) => s !== 1)) {
    inits.push(floatTensor('preprocess/std', [1, 3, 1, 1], spec.std));
    step('Div', ['preprocess/std'], 'preprocess/normalised');
  }
  if (!nchw) step('Transpose', [], 'preprocess/nhwc', { perm: [0, 2, 3, 1] });
  // The last preprocessing tensor takes the backbone input's (prefixed) name, so the backbone reads it unchanged.
  const backboneIn = PREFIX + input;
  if (x === 'image') nodes.push(node('Identity', [x], [backboneIn], {}, 'preprocess/identity'));
  else nodes[nodes.length - 1].output = [backboneIn];

  const backbone = renameGraph(pruneToOutput(backboneModel.graph as onnx.IGraphProto, EMBEDDING), (s) => PREFIX + s);
  nodes.push(...(backbone.node ?? []));
  inits.push(...(backbone.initializer ?? []));

  // The scaler (src/linear/scaler.ts).
  let z = PREFIX + EMBEDDING;
  const head = (op: string, ins: string[], out: string, attrs: Record<string, number | number[]> = {}): void => {
    nodes.push(node(op, ins, [out], attrs, `head/${out}`));
    z = out;
  };
  const scaler = clf.scaler;
  if (scaler.kind === 'l2') {
    if (opset >= 18) {
      inits.push(int64Tensor('head/feature_axis', [1], [1]));
      head('ReduceL2', [z, 'head/feature_axis'], 'head/norm', { keepdims: 1 });
    } else {
      head('ReduceL2', [z], 'head/norm', { axes: [1], keepdims: 1 });
    }
    inits.push(floatTensor('head/norm_floor', [], [L2_FLOOR]));
    head('Max', ['head/norm', 'head/norm_floor'], 'head/safe_norm');
    head('Div', [PREFIX + EMBEDDING, 'head/safe_norm'], 'head/scaled');
  } else if (scaler.kind === 'standard') {
    inits.push(floatTensor('head/scaler_mean', [1, D], Float32Array.from(scaler.mean!)));
    inits.push(floatTensor('head/scaler_std', [1, D], Float32Array.from(scaler.std!)));
    head('Sub', [z, 'head/scaler_mean'], 'head/centred');
    head('Div', [z, 'head/scaler_std'], 'head/scaled');
  }
  inits.push(floatTensor('head/W', [K, D], Float32Array.from(clf.weights)));
  inits.push(floatTensor('head/b', [K], Float32Array.from(clf.bias)));
  nodes.push(node('Gemm', [z, 'head/W', 'head/b'], ['scores'], { transB: 1 }, 'head/linear'));
  // SVM probabilities are softmax(scores / T) (src/linear/calibration.ts); softmax's own T is 1.
  let logits = 'scores';
  if (clf.temperature !== 1) {
    inits.push(floatTensor('head/temperature', [], [clf.temperature]));
    nodes.push(node('Div', ['scores', 'head/temperature'], ['head/logits'], {}, 'head/temperature_scaling'));
    logits = 'head/logits';
  }
  nodes.push(node('Softmax', [logits], ['probabilities'], { axis: 1 }, 'head/softmax'));

  const fingerprint = options.backboneFingerprint ?? clf.backbone.fingerprint ?? '';
  const metadata: Record<string, string> = {
    classes: JSON.stringify(clf.classes),
    convfeat_version: convfeatVersion(),
    backbone_model: clf.backbone.model ?? '',
    backbone_fingerprint: fingerprint,
    solver: clf.solver,
    scaler: clf.scaler.kind,
    C: String(clf.C),
    temperature: String(clf.temperature),
    input: `image: float32 [N,3,${height},${width}], RGB, values in [0,1], already resized and cropped as "preprocess" says`,
    preprocess: JSON.stringify(spec),
  };
  const model = makeModel(
    {
      name: 'convfeat_fused_classifier',
      nodes,
      inputs: [valueInfo('image', inputShape)],
      outputs: [valueInfo('probabilities', [batch, K]), valueInfo('scores', [batch, K])],
      initializers: inits,
      valueInfo: backbone.valueInfo ?? [],
    },
    {
      metadata,
      docString: `convfeat fused classifier: ${clf.backbone.model ?? 'backbone'} embedding → ${clf.scaler.kind} scaler → ${clf.solver} over ${K} classes.`,
    },
  );
  // Keep the backbone's opsets (its nodes were written for them) and its IR version when newer than ours.
  model.opsetImport = (backboneModel.opsetImport ?? []).map((o) =>
    onnx.OperatorSetIdProto.create({ domain: o.domain ?? '', version: o.version }),
  );
  if (Number(backboneModel.irVersion ?? 0) > Number(model.irVersion))
    model.irVersion = backboneModel.irVersion as number;
  return { model, inputShape, classes: [...clf.classes] };
}

/** Builds the fused model and writes it atomically to `out`. */
export function exportFusedOnnx(
  options: FusedExportOptions & { out: string },
): FusedModel & { file: string; bytes: number } {
  nonEmptyString('out', options?.out);
  const fused = buildFusedModel(options);
  try {
    saveModel(options.out, fused.model);
  } catch (e) {
    if (e instanceof ConvfeatError) throw e; // a full disk, a read-only folder: already one sentence
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConvfeatError(
      `Cannot write the fused model to ${options.out} (${code ?? (e as Error).message}); choose a writable path.`,
    );
  }
  return { ...fused, file: options.out, bytes: fs.statSync(options.out).size };
}
