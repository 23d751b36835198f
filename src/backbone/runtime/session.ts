/**
 * ONNX Runtime sessions and execution providers. `--device auto` tries CUDA and falls back to CPU with one line saying
 * why; an explicit `cuda` that cannot load is an error naming the fix.
 *
 * What onnxruntime-node 1.29/1.30 does when CUDA is missing (measured on a CPU-only Linux x64 install made with
 * onnxruntime-node-install=skip): InferenceSession.create throws "OrtSessionOptionsAppendExecutionProvider_Cuda: Failed
 * to load shared library" and prints its own error line to stderr. It never silently falls back, so a session that was
 * created with the CUDA provider list really runs on CUDA (ops CUDA lacks still run on CPU inside it). We check for the
 * provider library first so that the common CPU-only case neither tries nor prints anything.
 */
import { param } from '../../util/params';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { ConvfeatError, describeError } from '../../util/errors';
import { integerInRange, invalid } from '../../util/validate';
import { diagnoseGpu, type GpuDiagnosis } from './gpu/check';
import { ortRuntime } from './gpu/runtime';

export type DeviceRequest = 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;
export type Provider = 'cpu' | 'cuda';

export interface DeviceSpec {
  kind: 'auto' | 'cpu' | 'cuda';
  deviceId: number;
}

export interface SessionOptions {
  device?: DeviceRequest | string;
  /** Threads inside one operator (intra-op); default: every core. */
  threads?: number;
  /** Where the one-line fallback notice goes (the CLI passes stderr). */
  log?: (line: string) => void;
}

export interface SessionHandle {
  session: ort.InferenceSession;
  provider: Provider;
  deviceId?: number;
  /** Set when `auto` wanted CUDA and got CPU: why. */
  fallbackReason?: string;
  inputName: string;
  outputName: string;
  /** The image input's dimensions as the model declares them (symbolic names for dynamic axes). */
  inputShape: Array<number | string>;
  threads: number;
}

const MAX_CUDA_DEVICE = 63;
const DEVICE_FORMS = 'one of auto, cpu, cuda, cuda:N';

/** Validates `--device` at the door: auto, cpu, cuda, or cuda:N with N a device index. */
export function parseDevice(text: unknown): DeviceSpec {
  if (text === 'auto' || text === 'cpu' || text === 'cuda') return { kind: text, deviceId: 0 };
  if (typeof text === 'string') {
    const m = /^cuda:(\d{1,2})$/.exec(text);
    if (m && Number(m[1]) <= MAX_CUDA_DEVICE) return { kind: 'cuda', deviceId: Number(m[1]) };
  }
  throw invalid(param('device'), DEVICE_FORMS, text);
}

export function defaultThreads(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : Math.max(1, os.cpus().length);
}

/** The command that installs the CUDA provider (from the npm registry; backbone/gpu/install.ts). */
export const CUDA_INSTALL_COMMAND = 'npx convfeat gpu install';
/** The command that says what else CUDA needs. */
export const CUDA_CHECK_COMMAND = 'npx convfeat gpu check';

/**
 * The CUDA provider library in onnxruntime-node's native folder (where `convfeat gpu install`, or onnxruntime-node's
 * own NuGet install, puts it), or null on platforms it has no CUDA build for.
 */
export function cudaProviderLibrary(): string | null {
  if (process.arch !== 'x64') return null;
  const binDir = ortRuntime().binDir;
  if (process.platform === 'linux') return path.join(binDir, 'libonnxruntime_providers_cuda.so');
  if (process.platform === 'win32') return path.join(binDir, 'onnxruntime_providers_cuda.dll');
  return null;
}

/**
 * Why CUDA cannot be used before trying it (what `convfeat gpu check` would say), or null when it can be tried. On
 * Linux this reads the provider's dependencies and looks them up like the loader: libraries that exist only outside
 * the loader's path count as unusable here, because LD_LIBRARY_PATH is read at process start (the CLI restarts itself
 * with them; a library user gets the line to run).
 */
let diagnosisCache: GpuDiagnosis | undefined;

export function cudaUnavailableReason(library: string | null = cudaProviderLibrary()): string | null {
  if (library === null)
    return `onnxruntime-node has no CUDA execution provider for ${process.platform}/${process.arch}`;
  if (!fs.existsSync(library)) {
    return `the CUDA execution provider is not installed (${path.basename(library)} is missing; run \`${CUDA_INSTALL_COMMAND}\`)`;
  }
  if (process.platform !== 'linux') return null;
  // The loader's view cannot change within a process (LD_LIBRARY_PATH is read at start): diagnose once.
  const d = (diagnosisCache ??= diagnoseGpu());
  if (!d.ready) return d.summary;
  if (d.libraryPath.length > 0) {
    const current = process.env.LD_LIBRARY_PATH ? ':$LD_LIBRARY_PATH' : '';
    return `the CUDA libraries are in ${d.libraryPath.join(':')}, outside the loader's path, which is read at process start; run the program as \`LD_LIBRARY_PATH=${d.libraryPath.join(':')}${current} node ...\` (the convfeat CLI does this itself)`;
  }
  return null;
}

export async function createSession(model: string | Uint8Array, options: SessionOptions = {}): Promise<SessionHandle> {
  if (!(model instanceof Uint8Array) && (typeof model !== 'string' || model.length === 0)) {
    throw invalid('the model', 'an ONNX file path or ONNX bytes', model);
  }
  if (model instanceof Uint8Array && model.length === 0)
    throw invalid('the model', 'non-empty ONNX bytes', 'an empty buffer');
  const device = parseDevice(options.device ?? 'auto');
  const threads =
    options.threads === undefined ? defaultThreads() : integerInRange(param('threads'), options.threads, 1, 1024);
  const source = typeof model === 'string' ? model : 'the model';
  if (typeof model === 'string' && !fs.existsSync(model)) {
    throw new ConvfeatError(`Model file ${model} does not exist; check the path or run \`convfeat models list\`.`);
  }
  const base: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: threads,
    // Image backbones are one chain of ops; parallel branches would only compete for the same cores.
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    // Idle intra-op threads spin-wait by default; on small machines that burns the core the preprocessing workers
    // need (bench/README.md: 72 → 64 ms CPU per image in extract, extract/raw 0.78 → 0.82 on 2 cores).
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };

  let fallbackReason: string | undefined;
  if (device.kind !== 'cpu') {
    let reason = cudaUnavailableReason();
    if (reason === null) {
      const attempt = await openCudaSession(model, base, device.deviceId);
      if ('session' in attempt) return describe(attempt.session, 'cuda', threads, device.deviceId);
      reason = attempt.reason;
    }
    if (device.kind === 'cuda') {
      throw new ConvfeatError(
        `${param('device')} ${device.deviceId === 0 ? 'cuda' : `cuda:${device.deviceId}`} cannot be used: ${reason}; \`${CUDA_CHECK_COMMAND}\` shows the full diagnosis, or pass ${param('device')} cpu.`,
      );
    }
    fallbackReason = reason;
    options.log?.(`${param('device')} auto: using CPU because ${reason}.`);
  }
  let session: ort.InferenceSession;
  try {
    session = await create(model, { ...base, executionProviders: ['cpu'] });
  } catch (e) {
    throw new ConvfeatError(
      `ONNX Runtime cannot load ${source} (${describeError(e)}); check that it is a complete .onnx file.`,
      1,
      { cause: e },
    );
  }
  const handle = describe(session, 'cpu', threads);
  if (fallbackReason !== undefined) handle.fallbackReason = fallbackReason;
  return handle;
}

/**
 * Tries the CUDA execution provider alone. onnxruntime-node 1.29 throws at creation when the provider or its CUDA
 * libraries cannot load; the failure becomes a reason rather than an exception so `auto` can fall back.
 */
export async function openCudaSession(
  model: string | Uint8Array,
  base: ort.InferenceSession.SessionOptions,
  deviceId: number,
): Promise<{ session: ort.InferenceSession } | { reason: string }> {
  try {
    return { session: await create(model, { ...base, executionProviders: [{ name: 'cuda', deviceId }] }) };
  } catch (e) {
    const message = describeError(e);
    const missing = cudaUnavailableReason();
    if (missing !== null) return { reason: missing };
    return {
      reason: `the CUDA execution provider failed to start on device ${deviceId} (${message}); check that nvidia-smi lists the GPU`,
    };
  }
}

function create(
  model: string | Uint8Array,
  options: ort.InferenceSession.SessionOptions,
): Promise<ort.InferenceSession> {
  return typeof model === 'string'
    ? ort.InferenceSession.create(model, options)
    : ort.InferenceSession.create(model, options);
}

function describe(
  session: ort.InferenceSession,
  provider: Provider,
  threads: number,
  deviceId?: number,
): SessionHandle {
  const inputs = session.inputMetadata.filter((m): m is ort.InferenceSession.TensorValueMetadata => m.isTensor);
  const image = inputs.find((m) => m.type === 'float32' && m.shape.length === 4) ?? inputs[0];
  const outputName = session.outputNames.includes('embedding') ? 'embedding' : (session.outputNames[0] as string);
  const handle: SessionHandle = {
    session,
    provider,
    inputName: image?.name ?? (session.inputNames[0] as string),
    outputName,
    inputShape: image ? [...image.shape] : [],
    threads,
  };
  if (deviceId !== undefined) handle.deviceId = deviceId;
  return handle;
}

/**
 * Runs n images (NCHW float32, contiguous) and returns the [n, D] embeddings as one Float32Array.
 * session.run blocks the event loop for the whole inference (onnxruntime-node runs it synchronously on the calling
 * thread even though it returns a promise), so callers that must stay responsive run it in a worker thread.
 */
export async function runBatch(
  handle: SessionHandle,
  images: Float32Array,
  n: number,
  /** Per-image dims [C, H, W]; needed only when the model declares a dynamic image size. */
  imageShape?: readonly number[],
): Promise<Float32Array> {
  integerInRange('the batch size', n, 1, 1_000_000);
  if (!(images instanceof Float32Array) || images.length === 0 || images.length % n !== 0) {
    throw invalid(
      'the images',
      `a Float32Array holding ${n} images`,
      images instanceof Float32Array ? `${images.length} values` : images,
    );
  }
  const declared = handle.inputShape.slice(1);
  const perImage = images.length / n;
  const fixed = declared.every((d) => typeof d === 'number' && d > 0)
    ? (declared as number[]).reduce((a, b) => a * b, 1)
    : null;
  if (fixed !== null && fixed !== perImage) {
    throw invalid(
      'the images',
      `${n} images of [${declared.join(', ')}] (${n * fixed} values)`,
      `${images.length} values`,
    );
  }
  const batchDim = handle.inputShape[0];
  if (typeof batchDim === 'number' && batchDim > 0 && batchDim !== n) {
    throw new ConvfeatError(
      `The model's input has a fixed batch size of ${batchDim}, so it cannot run ${n} images at once; cut it with convfeat, which makes the batch axis dynamic.`,
    );
  }
  let perImageDims: number[];
  if (fixed !== null) perImageDims = declared as number[];
  else if (imageShape && imageShape.reduce((a, b) => a * b, 1) === perImage) perImageDims = [...imageShape];
  else
    throw invalid(
      'the image shape',
      `[C, H, W] with ${perImage} values, because the model's input [${handle.inputShape.join(', ')}] has a dynamic size`,
      imageShape,
    );
  const dims = [n, ...perImageDims];
  const feeds = { [handle.inputName]: new ort.Tensor('float32', images, dims) };
  const result = await handle.session.run(feeds, [handle.outputName]);
  const out = result[handle.outputName];
  if (!out || !(out.data instanceof Float32Array) || out.dims[0] !== n) {
    throw new ConvfeatError(
      `The model returned ${out ? `a ${out.type} tensor of shape [${out.dims.join(', ')}]` : 'nothing'} for ${handle.outputName}, not ${n} float32 rows.`,
    );
  }
  return out.data;
}
