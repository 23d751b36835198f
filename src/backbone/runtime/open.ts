/**
 * Opening a prepared backbone for extraction: an onnxruntime session on the requested device (CUDA with a fallback to
 * CPU that says why), the declared input checked against the preprocessing, the embedding size found by one run when
 * the graph does not tell, and the identity (model and preprocessing fingerprints) every cache entry is keyed by.
 * Hand-engineered (classical) features open their TypeScript/OpenCV embedder instead.
 */
import type { BackboneIdentity, EmbeddingBackbone } from './extractor';
import { preprocessFingerprint, outputSize, type ExifMode, type PreprocessSpec } from '../../preprocess/spec';
import { ConvfeatError, UsageError } from '../../util/errors';
import { param } from '../../util/params';
import { createSession, cudaUnavailableReason, parseDevice, runBatch, type SessionHandle } from './session';
import type { ModelEntry } from '../store';
import type { Int8Summary, Precision } from '../quantize/variant';
import { classicalEmbedder, type ClassicalModel } from '../classical';

/** What prepareBackbone (backbone/load) hands to openBackbone: a resolved, cut and fingerprinted model. */
export interface PreparedBackbone {
  /** Manifest name, or the file name without extension for user models. */
  name: string;
  file: string;
  entry?: ModelEntry;
  /** The cut graph's bytes (read on first use: a fully cached extraction never needs them). */
  cutBytes(): Uint8Array;
  fingerprint: string;
  /** Embedding size when the graph's shapes tell; otherwise found by running one image. */
  dim: number | null;
  layer: string;
  tensor: string;
  spec: PreprocessSpec;
  precision: Precision;
  /** For int8: how many nodes were quantised and which stayed fp32. */
  int8?: Int8Summary;
  /** Set for hand-engineered features (classical:hog, …): no ONNX graph, computed in TypeScript/OpenCV. */
  classical?: ClassicalModel;
}

export interface OpenOptions {
  device?: string;
  threads?: number;
  exif?: ExifMode;
  maxPixels?: number;
  log?: (line: string) => void;
}

export interface OpenBackbone extends EmbeddingBackbone {
  prepared: PreparedBackbone;
  /** The onnxruntime session, created on first use. */
  session(): Promise<SessionHandle>;
  fallbackReason?: string;
  close(): Promise<void>;
}

/** Classical features run in TypeScript/OpenCV on the CPU: no session, no device choice. */
async function openClassical(prepared: PreparedBackbone, opts: OpenOptions): Promise<OpenBackbone> {
  const m = prepared.classical!;
  if (parseDevice(opts.device ?? 'auto').kind === 'cuda') {
    throw new UsageError(
      `${param('device')} cuda: ${m.name} is computed on the CPU (hand-engineered features); use ${param('device')} cpu or auto.`,
    );
  }
  const embed = await classicalEmbedder(m);
  const exif = opts.exif ?? 'apply';
  return {
    prepared,
    identity: {
      model: m.name,
      modelFingerprint: m.fingerprint,
      preprocessFingerprint: preprocessFingerprint({ spec: m.spec, exif }),
      dim: m.dim,
    },
    transform: { spec: m.spec, exif, ...(opts.maxPixels !== undefined ? { maxPixels: opts.maxPixels } : {}) },
    provider: 'cpu',
    session: () => Promise.reject(new ConvfeatError(`${m.name} has no onnxruntime session.`)),
    embed,
    close: async () => embed.close(),
  };
}

/**
 * Opens a prepared backbone for extraction. The onnxruntime session (a second or two for ResNet50) is created on
 * the first batch when the provider is already certain, so a run served entirely from the cache never pays for it.
 */
export async function openBackbone(prepared: PreparedBackbone, opts: OpenOptions = {}): Promise<OpenBackbone> {
  if (prepared.classical) return openClassical(prepared, opts);
  const device = parseDevice(opts.device ?? 'auto');
  const threads = opts.threads;
  const size = outputSize(prepared.spec)!;
  const expected = prepared.spec.layout === 'NCHW' ? [3, size.height, size.width] : [size.height, size.width, 3];
  const cudaProblem = device.kind === 'cpu' ? null : cudaUnavailableReason();
  const certainCpu = device.kind === 'cpu' || (device.kind === 'auto' && cudaProblem !== null);
  let fallbackReason: string | undefined;
  if (device.kind === 'auto' && cudaProblem !== null) {
    fallbackReason = cudaProblem;
    opts.log?.(`${param('device')} auto: using CPU because ${cudaProblem}.`);
  }

  let handle: SessionHandle | undefined;
  const open = async (): Promise<SessionHandle> => {
    if (handle) return handle;
    handle = await createSession(prepared.cutBytes(), {
      device: certainCpu ? 'cpu' : (opts.device ?? 'auto'),
      ...(threads !== undefined ? { threads } : {}),
      log: opts.log,
    });
    const declared = handle.inputShape.slice(1);
    if (declared.every((d) => typeof d === 'number') && declared.join(',') !== expected.join(',')) {
      throw new ConvfeatError(
        `${prepared.name} takes images of [${declared.join(', ')}] but its preprocessing makes [${expected.join(', ')}]; fix the preprocessing (${param('preprocess')}) to match the model.`,
      );
    }
    return handle;
  };

  let dim = prepared.dim;
  if (dim === null || !certainCpu) {
    const h = await open();
    if (h.fallbackReason !== undefined) fallbackReason = h.fallbackReason;
    if (dim === null)
      dim = (await runBatch(h, new Float32Array(expected[0]! * expected[1]! * expected[2]!), 1, expected)).length;
  }
  const provider = handle ? (handle.provider === 'cuda' ? `cuda:${handle.deviceId ?? 0}` : 'cpu') : 'cpu';
  const exif = opts.exif ?? 'apply';
  const identity: BackboneIdentity = {
    model: prepared.name,
    modelFingerprint: prepared.fingerprint,
    preprocessFingerprint: preprocessFingerprint({ spec: prepared.spec, exif }),
    dim,
  };
  return {
    prepared,
    identity,
    transform: { spec: prepared.spec, exif, ...(opts.maxPixels !== undefined ? { maxPixels: opts.maxPixels } : {}) },
    provider,
    ...(fallbackReason !== undefined ? { fallbackReason } : {}),
    session: open,
    embed: async (batch: Float32Array, n: number) => runBatch(await open(), batch, n, expected),
    close: async () => {
      if (handle) await handle.session.release();
      handle = undefined;
    },
  };
}
