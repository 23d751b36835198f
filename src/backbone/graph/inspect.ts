/**
 * `convfeat models inspect FILE.onnx`: what a model takes, what it returns, and where convfeat would cut it. The
 * result is plain JSON-serialisable data (printed by `--json`); formatModelInfo renders it for people.
 */
import * as fs from 'fs';
import * as path from 'path';
import { nonEmptyString } from '../../util/validate';
import { decodeModel, dimsOf, ElemType, loadModel, onnx } from './proto';
import { Dim, elemTypeName, tensorDims } from './graph-index';
import { analyseHead, EmbeddingCandidate, embeddingOrigin, perImageDim } from './head';
import { param } from '../../util/params';

export interface TensorInfo {
  name: string;
  /** Numbers, symbolic names such as 'batch', or '?' when the file does not say. */
  dims: Dim[];
  type: string;
}

export interface ModelInfo {
  file: string;
  sizeBytes: number;
  producer: string;
  irVersion: number;
  opset: number;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  /** Where the channel axis is, guessed from which axis has 3 (or 1) entries. */
  layout: 'NCHW' | 'NHWC' | 'unknown';
  nodeCount: number;
  parameterCount: number;
  /** The default embedding, or null with the reason in embeddingProblem. */
  embedding: { tensor: string; layer: string; dim: number | null; shape: Dim[] | null } | null;
  embeddingProblem: string | null;
  candidates: EmbeddingCandidate[];
  /** True when the model's single output already is the embedding (a convfeat cut or a headless export). */
  alreadyCut: boolean;
  metadata: Record<string, string>;
}

const FLOAT_TYPES = new Set<number>([ElemType.FLOAT, ElemType.FLOAT16, ElemType.DOUBLE, ElemType.BFLOAT16]);

export function inspectModel(file: string): ModelInfo {
  nonEmptyString('the model file', file);
  const model = loadModel(file);
  return describeModel(model, path.basename(file), fs.statSync(file).size);
}

/** Same as inspectModel for bytes already in memory (a fetched model before it is written, a test graph). */
export function inspectModelBytes(bytes: Uint8Array, name = 'model.onnx'): ModelInfo {
  return describeModel(decodeModel(bytes, name), name, bytes.length);
}

function describeModel(model: onnx.ModelProto, name: string, sizeBytes: number): ModelInfo {
  const analysis = analyseHead(model, name);
  const { index, image, shapes } = analysis;
  const tensorInfo = (v: onnx.IValueInfoProto): TensorInfo => ({
    name: v.name as string,
    dims: dimsOf(v),
    type: elemTypeName(v.type?.tensorType?.elemType),
  });
  const outputs = (model.graph?.output ?? []).map(tensorInfo);
  let parameterCount = 0;
  for (const t of index.initializers.values()) {
    if (FLOAT_TYPES.has(t.dataType ?? 0)) parameterCount += tensorDims(t).reduce((a, b) => a * b, 1);
  }
  const metadata: Record<string, string> = {};
  for (const p of model.metadataProps ?? []) metadata[p.key as string] = p.value as string;

  let embedding: ModelInfo['embedding'] = null;
  if (analysis.defaultTensor !== null) {
    const tensor = analysis.defaultTensor;
    const shape = shapes.get(tensor) ?? null;
    const candidate = analysis.candidates.find((c) => c.tensor === tensor);
    embedding = {
      // A convfeat cut says in its metadata which layer of the original classifier it ends at.
      ...embeddingOrigin(index, tensor, new Map(Object.entries(metadata))),
      dim: candidate?.dim ?? perImageDim(shape),
      shape,
    };
  }
  const defaultDomain = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  return {
    file: name,
    sizeBytes,
    producer: [model.producerName, model.producerVersion].filter((s) => s).join(' ') || 'unknown',
    irVersion: Number(model.irVersion ?? 0),
    opset: Number(defaultDomain?.version ?? 0),
    inputs: index.graphInputs.map(tensorInfo),
    outputs,
    layout: guessLayout(image.dims),
    nodeCount: index.nodes.length,
    parameterCount,
    embedding,
    embeddingProblem: analysis.defaultProblem,
    candidates: analysis.candidates,
    alreadyCut: outputs.length === 1 && outputs[0]?.name === analysis.defaultTensor,
    metadata,
  };
}

function guessLayout(dims: Dim[]): ModelInfo['layout'] {
  const isChannels = (d: Dim | undefined): boolean => d === 3 || d === 1;
  if (isChannels(dims[1]) && !isChannels(dims[3])) return 'NCHW';
  if (isChannels(dims[3]) && !isChannels(dims[1])) return 'NHWC';
  return 'unknown';
}

function showDims(dims: Dim[] | null): string {
  return dims ? `[${dims.join(', ')}]` : '?';
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** A readable summary: model facts, inputs/outputs, the default embedding and a table of candidates. */
export function formatModelInfo(info: ModelInfo): string {
  const lines: string[] = [];
  lines.push(
    `Model       ${info.file} (${megabytes(info.sizeBytes)}, ${info.producer}, opset ${info.opset}, IR ${info.irVersion})`,
  );
  lines.push(`Graph       ${info.nodeCount} nodes, ${info.parameterCount.toLocaleString('en-US')} parameters`);
  for (const t of info.inputs)
    lines.push(
      `Input       ${t.name} ${showDims(t.dims)} ${t.type}${info.layout !== 'unknown' ? ` (${info.layout})` : ''}`,
    );
  for (const t of info.outputs) lines.push(`Output      ${t.name} ${showDims(t.dims)} ${t.type}`);
  if (info.embedding) {
    const e = info.embedding;
    lines.push(
      `Embedding   ${e.tensor} (${e.dim ?? '?'}-d), from ${e.layer}${info.alreadyCut ? ' — the model is already cut' : ''}`,
    );
  } else {
    lines.push(`Embedding   none by default: ${info.embeddingProblem ?? ''}`);
  }
  if (info.candidates.length > 0) {
    lines.push('', `Candidate embedding layers (* = default; pass another with ${param('layer')}):`);
    const rows = info.candidates.map((c) => [
      c.isDefault ? '*' : ' ',
      c.tensor,
      c.op,
      showDims(c.shape),
      c.dim === null ? '?' : String(c.dim),
      c.feeds ?? '',
    ]);
    const header = [' ', 'tensor', 'op', 'shape', 'dim', 'read by'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
    for (const r of [header, ...rows])
      lines.push(
        `  ${r
          .map((cell, i) => cell.padEnd(widths[i] as number))
          .join('  ')
          .trimEnd()}`,
      );
  }
  return lines.join('\n');
}
