/**
 * Head cutting: turns an ImageNet classifier into a feature extractor whose single output `embedding` is [batch, D].
 * The cut keeps only the nodes the embedding depends on, drops the weights it no longer needs and makes the batch axis
 * dynamic, because torch.onnx.export fixes batch = 1 unless it was given dynamic_axes.
 */
import { param } from '../../util/params';
import { UsageError } from '../../util/errors';
import { nonEmptyString } from '../../util/validate';
import { int64Tensor, onnx } from './proto';
import { Dim, GraphIndex, intAttr, intValues } from './graph-index';
import {
  analyseHead,
  EMBEDDING_OUTPUT,
  EmbeddingCandidate,
  embeddingOrigin,
  META_LAYER,
  META_TENSOR,
  perImageDim,
  resolveLayer,
} from './head';

export { EMBEDDING_OUTPUT, META_LAYER, META_TENSOR };
export type { EmbeddingCandidate };

export interface EmbeddingChoice {
  /** The tensor of the source model the embedding is read from. */
  tensor: string;
  /** Features per image, when the graph's shapes determine it. */
  dim: number | null;
  /** The node that produces that tensor. */
  layer: string;
}

export interface CutResult {
  model: onnx.ModelProto;
  embedding: EmbeddingChoice;
}

export interface CutOptions {
  /** A node name (its first output is taken) or a tensor name; default: the input of the last fully connected layer. */
  layer?: string;
  /** How the model is named in messages (a file name). */
  source?: string;
}

const BATCH = 'batch';

/** Tensors that can serve as an embedding: inputs of fully connected layers, pooled and flattened tensors. */
export function findEmbeddingCandidates(model: onnx.IModelProto, source = 'the model'): EmbeddingCandidate[] {
  return analyseHead(model, source).candidates;
}

export function cutAtEmbedding(model: onnx.IModelProto, options: CutOptions = {}): CutResult {
  const source = options.source ?? 'the model';
  if (options.layer !== undefined) nonEmptyString(param('layer'), options.layer);
  const analysis = analyseHead(model, source);
  const { index, image, shapes } = analysis;

  let tensor: string;
  if (options.layer !== undefined) tensor = resolveLayer(analysis, options.layer, source);
  else if (analysis.defaultTensor !== null) tensor = analysis.defaultTensor;
  else throw new UsageError(analysis.defaultProblem as string);

  const shape = shapes.get(tensor) ?? null;
  if (shape !== null && shape.length < 2) {
    throw new UsageError(
      `Tensor ${JSON.stringify(tensor)} of ${source} has shape [${shape.join(', ')}], not one row per image; pick a layer with a batch axis (see \`convfeat models inspect\`).`,
    );
  }
  const needsFlatten = shape === null || shape.length !== 2;
  const dim = perImageDim(shape);
  const meta = new Map((model.metadataProps ?? []).map((p) => [p.key as string, p.value as string]));
  const alreadyCut = tensor === EMBEDDING_OUTPUT && !needsFlatten;

  let nodes = [...index.nodes];
  let embeddingSource = tensor;
  if (!alreadyCut) {
    // Another tensor may already be called `embedding`; rename it so that the new output name is unique.
    if (index.producer.has(EMBEDDING_OUTPUT) || index.isGraphInput(EMBEDDING_OUTPUT)) {
      const fresh = freshName(index, `${EMBEDDING_OUTPUT}_source`);
      nodes = nodes.map((n) => renameTensor(n, EMBEDDING_OUTPUT, fresh));
      if (embeddingSource === EMBEDDING_OUTPUT) embeddingSource = fresh;
    }
    nodes.push({
      opType: needsFlatten ? 'Flatten' : 'Identity',
      name: `convfeat/${EMBEDDING_OUTPUT}`,
      input: [embeddingSource],
      output: [EMBEDDING_OUTPUT],
      attribute: needsFlatten ? [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }] : [],
    });
  }
  const kept = reachableNodes(nodes, EMBEDDING_OUTPUT);

  const batchDim = image.dims[0];
  const batch: string = typeof batchDim === 'string' && batchDim !== '?' ? batchDim : BATCH;
  const initializers = new Map(index.initializers);
  const finalNodes =
    typeof batchDim === 'number' ? kept.map((n) => freeFixedBatch(n, batchDim, index, shapes, initializers)) : kept;
  const used = tensorsRead(finalNodes);

  const choice: EmbeddingChoice = { ...embeddingOrigin(index, tensor, meta), dim };
  meta.set(META_TENSOR, choice.tensor);
  meta.set(META_LAYER, choice.layer);

  const imageInfo = (model.graph?.input ?? []).find((v) => v.name === image.name) as onnx.IValueInfoProto;
  const imageType = imageInfo.type?.tensorType;
  const inputs: onnx.IValueInfoProto[] = [
    {
      name: image.name,
      type: {
        tensorType: {
          elemType: imageType?.elemType,
          shape: { dim: [{ dimParam: batch }, ...(imageType?.shape?.dim ?? []).slice(1)] },
        },
      },
    },
    // Other real inputs survive only if the embedding still reads them.
    ...index.graphInputs.filter((v) => v.name !== image.name && used.has(v.name as string)),
  ];
  const output: onnx.IValueInfoProto = {
    name: EMBEDDING_OUTPUT,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: [{ dimParam: batch }, dim !== null ? { dimValue: dim } : {}] },
      },
    },
  };
  const out = onnx.ModelProto.create({
    irVersion: model.irVersion,
    producerName: present(model.producerName),
    producerVersion: present(model.producerVersion),
    domain: present(model.domain),
    modelVersion: present(model.modelVersion),
    docString: present(model.docString),
    opsetImport: model.opsetImport,
    metadataProps: [...meta.entries()].map(([key, value]) => ({ key, value })),
    graph: {
      name: present(model.graph?.name),
      docString: present(model.graph?.docString),
      node: finalNodes,
      input: inputs,
      output: [output],
      initializer: [...initializers.values()].filter((t) => used.has(t.name as string)),
      // Intermediate value_info is optional and would pin the old fixed batch size; ONNX Runtime infers shapes itself.
      valueInfo: [],
    },
  });
  return { model: out, embedding: choice };
}

/**
 * Decoded protobuf messages read absent fields as defaults ('' or 0); copying those would write fields the source
 * did not have, and cutting a cut model would no longer give the same bytes (and the same fingerprint).
 */
function present<T>(value: T | null | undefined): T | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  if (
    typeof value === 'object' &&
    'isZero' in (value as object) &&
    (value as unknown as { isZero(): boolean }).isZero()
  )
    return undefined;
  if (value === 0) return undefined;
  return value;
}

function freshName(index: GraphIndex, base: string): string {
  const taken = new Set([...index.tensorNames(), ...index.initializers.keys()]);
  let name = base;
  for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
  return name;
}

function renameTensor(n: onnx.INodeProto, from: string, to: string): onnx.INodeProto {
  const swap = (names: string[] | null | undefined): string[] => (names ?? []).map((t) => (t === from ? to : t));
  return { ...n, input: swap(n.input), output: swap(n.output) };
}

/**
 * The graph reduced to what `target` depends on: its nodes (in order), the weights and value_info they read, and
 * `target` as the only output. The fused export wraps a backbone with this, so a head left in the model is dropped
 * exactly as the cutter drops it.
 */
export function pruneToOutput(g: onnx.IGraphProto, target: string): onnx.IGraphProto {
  const node = reachableNodes(g.node ?? [], target);
  const needed = tensorsRead(node).add(target);
  return {
    ...g,
    node,
    initializer: (g.initializer ?? []).filter((t) => needed.has(t.name ?? '')),
    output: (g.output ?? []).filter((o) => o.name === target),
    valueInfo: (g.valueInfo ?? []).filter((v) => needed.has(v.name ?? '')),
  };
}

/** Nodes the target depends on, in their original (topological) order. */
export function reachableNodes(nodes: onnx.INodeProto[], target: string): onnx.INodeProto[] {
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => (n.output ?? []).forEach((t) => t && producer.set(t, i)));
  const keep = new Set<number>();
  const stack = [target];
  while (stack.length > 0) {
    const t = stack.pop() as string;
    const i = producer.get(t);
    if (i === undefined || keep.has(i)) continue;
    keep.add(i);
    stack.push(...nodeReads(nodes[i] as onnx.INodeProto));
  }
  return nodes.filter((_, i) => keep.has(i));
}

/** Every tensor a node reads, including outer-scope names used inside If/Loop/Scan subgraphs. */
function nodeReads(n: onnx.INodeProto): string[] {
  const reads = (n.input ?? []).filter((t) => t);
  for (const a of n.attribute ?? []) {
    for (const g of [a.g, ...(a.graphs ?? [])]) {
      for (const inner of g?.node ?? []) reads.push(...nodeReads(inner));
    }
  }
  return reads;
}

export function tensorsRead(nodes: onnx.INodeProto[]): Set<string> {
  const used = new Set<string>();
  for (const n of nodes) for (const t of nodeReads(n)) used.add(t);
  return used;
}

/**
 * A model exported with a fixed batch often reshapes with a constant target such as [1, -1]; with a dynamic batch
 * that would silently fold the batch into the features. Rewrite the leading 1 to 0 (copy the input's batch dimension)
 * for Reshapes of image-derived tensors whose batch dimension is the old fixed one.
 */
function freeFixedBatch(
  n: onnx.INodeProto,
  fixedBatch: number,
  index: GraphIndex,
  shapes: Map<string, Dim[]>,
  initializers: Map<string, onnx.ITensorProto>,
): onnx.INodeProto {
  if (n.opType !== 'Reshape' || intAttr(n, 'allowzero', 0) === 1) return n;
  const [data, target] = n.input ?? [];
  if (!data || !target || index.isConstant(data)) return n;
  const targetTensor = index.constantTensor(target);
  if (!targetTensor) return n;
  const values = intValues(targetTensor);
  if (values.length < 2 || values[0] !== fixedBatch || shapes.get(data)?.[0] !== fixedBatch) return n;
  const name = `${target}_dynamic_batch`;
  initializers.set(name, int64Tensor(name, [values.length], [0, ...values.slice(1)]));
  return { ...n, input: [data, name, ...(n.input ?? []).slice(2)] };
}
