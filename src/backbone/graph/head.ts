/**
 * Finds where a classifier's head begins. The embedding convfeat extracts is the input of the last fully connected
 * layer on the path to the output (ResNet: the pooled 512-d vector; VGG16: fc7 after its ReLU, 4096-d), read through
 * Dropout and Identity, which are no-ops at inference. Fully connected means Gemm, or MatMul (+Add), whose weight is a
 * 2-D constant: that is how torch.onnx.export writes nn.Linear.
 */
import { UsageError } from '../../util/errors';
import { onnx } from './proto';
import { Dim, findImageInput, GraphIndex, ImageInput, intAttr, tensorDims } from './graph-index';
import { inferShapes, Shape } from './shapes';
import { param } from '../../util/params';

/** The name of the single output of a cut model. */
export const EMBEDDING_OUTPUT = 'embedding';
/** Metadata keys a cut model carries, so that cutting it again, or inspecting it, can say where it came from. */
export const META_TENSOR = 'convfeat.embedding_tensor';
export const META_LAYER = 'convfeat.embedding_layer';

export interface FullyConnected {
  node: onnx.INodeProto;
  /** The tensor the layer reads, already traced back through Dropout/Identity. */
  input: string;
  inDim: number;
  outDim: number;
}

export interface EmbeddingCandidate {
  tensor: string;
  /** Name and op of the node that produces the tensor. */
  node: string;
  op: string;
  shape: Dim[] | null;
  /** Features per image (product of the non-batch dimensions) when the shapes say so. */
  dim: number | null;
  /** The fully connected layer that reads this tensor, if any. */
  feeds: string | null;
  isDefault: boolean;
}

export interface HeadAnalysis {
  index: GraphIndex;
  image: ImageInput;
  shapes: Map<string, Shape>;
  candidates: EmbeddingCandidate[];
  /** The default embedding tensor, or the sentence saying why there is none. */
  defaultTensor: string | null;
  defaultProblem: string | null;
}

const PASS_THROUGH = new Set(['Dropout', 'Identity']);
/** Ops whose inputs after the first are parameters (shapes, axes, ratios), not data flowing from the image. */
const FIRST_INPUT_ONLY = new Set([
  'Reshape',
  'Dropout',
  'Clip',
  'Squeeze',
  'Unsqueeze',
  'Slice',
  'Pad',
  'ReduceMean',
  'ReduceMax',
  'Expand',
  'Tile',
  'Resize',
  'Upsample',
  'Transpose',
  'Flatten',
  'Softmax',
  'LogSoftmax',
  'Identity',
  'Cast',
]);
const POOLED_OPS = new Set(['GlobalAveragePool', 'GlobalMaxPool', 'Flatten', 'ReduceMean', 'ReduceMax']);

export function analyseHead(model: onnx.IModelProto, source: string): HeadAnalysis {
  const index = new GraphIndex(model.graph ?? {});
  const image = findImageInput(index, source);
  const shapes = inferShapes(index);
  const byTensor = new Map<string, EmbeddingCandidate>();
  const add = (tensor: string, dim: number | null, feeds: string | null): void => {
    if (index.isGraphInput(tensor) || index.isConstant(tensor)) return;
    const existing = byTensor.get(tensor);
    if (existing) {
      existing.feeds = existing.feeds ?? feeds;
      existing.dim = existing.dim ?? dim;
      return;
    }
    const producer = index.producer.get(tensor);
    const shape = shapes.get(tensor) ?? null;
    byTensor.set(tensor, {
      tensor,
      node: producer?.name || '',
      op: producer?.opType ?? '',
      shape,
      dim: dim ?? perImageDim(shape),
      feeds,
      isDefault: false,
    });
  };
  for (const n of index.nodes) {
    const fc = asFullyConnected(index, n);
    if (fc) add(fc.input, fc.inDim, n.name ?? null);
    else if (
      POOLED_OPS.has(n.opType ?? '') ||
      (n.opType === 'Reshape' && shapes.get(n.output?.[0] ?? '')?.length === 2)
    ) {
      add(n.output?.[0] as string, null, null);
    }
  }
  const candidates = [...byTensor.values()];

  let defaultTensor: string | null = null;
  let defaultProblem: string | null = null;
  const outputs = (model.graph?.output ?? []).map((o) => o.name as string);
  if (outputs.includes(EMBEDDING_OUTPUT)) {
    defaultTensor = EMBEDDING_OUTPUT;
  } else {
    for (const out of outputs) {
      const fc = lastFullyConnected(index, out);
      if (fc) {
        defaultTensor = fc.input;
        break;
      }
    }
  }
  if (defaultTensor === null) {
    defaultProblem = `${source} has no fully connected layer (Gemm or MatMul with a constant weight) on the path to its output ${outputs.join(', ')}; pass ${param('layer')} with one of: ${describeCandidates(candidates)}.`;
  } else {
    add(defaultTensor, null, null);
    const chosen = byTensor.get(defaultTensor);
    if (chosen) chosen.isDefault = true;
  }
  return { index, image, shapes, candidates: [...byTensor.values()], defaultTensor, defaultProblem };
}

export function asFullyConnected(index: GraphIndex, n: onnx.INodeProto): FullyConnected | undefined {
  const [a, b] = n.input ?? [];
  if (!a || !b || index.isConstant(a)) return undefined;
  const weight = index.constantTensor(b);
  if (!weight) return undefined;
  const w = tensorDims(weight);
  if (w.length !== 2) return undefined;
  if (n.opType === 'Gemm') {
    if (intAttr(n, 'transA', 0) !== 0) return undefined;
    const transB = intAttr(n, 'transB', 0) !== 0;
    return {
      node: n,
      input: traceBack(index, a),
      inDim: (transB ? w[1] : w[0]) as number,
      outDim: (transB ? w[0] : w[1]) as number,
    };
  }
  if (n.opType === 'MatMul')
    return { node: n, input: traceBack(index, a), inDim: w[0] as number, outDim: w[1] as number };
  return undefined;
}

/** Follows Dropout/Identity back to the tensor that actually carries the values. */
export function traceBack(index: GraphIndex, tensor: string): string {
  let t = tensor;
  for (let guard = 0; guard < 1000; guard++) {
    const p = index.producer.get(t);
    if (!p || !PASS_THROUGH.has(p.opType ?? '') || !p.input?.[0]) return t;
    t = p.input[0];
  }
  return t;
}

/** Walks back from a graph output along the single data path; a merge (residual Add, Concat) means we left the head. */
export function lastFullyConnected(index: GraphIndex, output: string): FullyConnected | undefined {
  let t = output;
  for (let guard = 0; guard < 10000; guard++) {
    const p = index.producer.get(t);
    if (!p) return undefined;
    const fc = asFullyConnected(index, p);
    if (fc) return fc;
    const data = FIRST_INPUT_ONLY.has(p.opType ?? '') ? [p.input?.[0] ?? ''] : index.dataInputs(p);
    if (data.length !== 1 || !data[0]) return undefined;
    t = data[0];
  }
  return undefined;
}

/**
 * Resolves `--layer NAME`: a tensor name is taken as is, a node name means that node's first output. Unknown names,
 * the image input and weights are refused with a sentence listing valid candidates.
 */
export function resolveLayer(analysis: HeadAnalysis, layer: string, source: string): string {
  const { index } = analysis;
  if (index.isGraphInput(layer)) {
    throw new UsageError(
      `${param('layer')} ${JSON.stringify(layer)} is the input of ${source}, not a layer; pass one of: ${describeCandidates(analysis.candidates)}.`,
    );
  }
  if (index.isConstant(layer)) {
    throw new UsageError(
      `${param('layer')} ${JSON.stringify(layer)} is a weight of ${source}, not a layer; pass one of: ${describeCandidates(analysis.candidates)}.`,
    );
  }
  if (index.producer.has(layer)) return layer;
  const byName = index.nodes.find((n) => n.name === layer);
  if (byName?.output?.[0]) return byName.output[0];
  throw new UsageError(
    `Expected ${param('layer')} to be a node or tensor name of ${source} (for example ${describeCandidates(analysis.candidates)}) but received ${JSON.stringify(layer)}`,
  );
}

/**
 * Where an embedding comes from in the original classifier: a convfeat cut records it in metadata; a model that
 * merely names an output `embedding` (as convfeat's Keras converter does) is traced back through its Identity.
 */
export function embeddingOrigin(
  index: GraphIndex,
  tensor: string,
  metadata: ReadonlyMap<string, string>,
): { tensor: string; layer: string } {
  if (tensor === EMBEDDING_OUTPUT && metadata.has(META_TENSOR)) {
    const origin = metadata.get(META_TENSOR) as string;
    return { tensor: origin, layer: metadata.get(META_LAYER) || origin };
  }
  const source = tensor === EMBEDDING_OUTPUT ? traceBack(index, tensor) : tensor;
  return { tensor: source, layer: index.producer.get(source)?.name || source };
}

export function perImageDim(shape: Dim[] | null | undefined): number | null {
  if (!shape || shape.length < 2) return null;
  const rest = shape.slice(1);
  return rest.every((d) => typeof d === 'number') ? (rest as number[]).reduce((a, b) => a * b, 1) : null;
}

function describeCandidates(candidates: EmbeddingCandidate[]): string {
  if (candidates.length === 0) return 'a tensor name from `convfeat models inspect`';
  // The last few are the ones near the head, which is where embeddings are taken.
  return candidates
    .slice(-5)
    .map((c) => `${JSON.stringify(c.tensor)}${c.dim !== null ? ` (${c.dim}-d)` : ''}`)
    .join(', ');
}
