/**
 * The backbone's door: from what the user names (`--model resnet50` or `--model my.onnx`, optional `--layer`) to a
 * ready feature extractor. Each step lives in its wing; this file only composes them:
 *
 *   store/resolve    name → model file (fetched or converted), preprocessing, layer, precision
 *   graph/cutCache   file → cut graph at the embedding, its fingerprint (kept in <store>/cut/ for large models)
 *   quantize/variant fp32 cut → int8 cut with the model's range table (only for int8)
 *   runtime/open     prepared backbone → onnxruntime session on the requested device
 */
import { ConvfeatError } from '../util/errors';
import { cachedCut } from './graph/cutCache';
import { int8Cut, modelNameWithPrecision } from './quantize/variant';
import type { ClassicalModel } from './classical';
import { int8TablePath, resolveBackbone, type BackboneRequest } from './store/resolve';
import type { PreparedBackbone } from './runtime/open';

export {
  PREPROCESS_PRESETS,
  modelStoreDir,
  int8TablePath,
  resolveBackbone,
  type BackboneRequest,
  type ResolvedBackbone,
} from './store/resolve';
export { openBackbone, type OpenBackbone, type OpenOptions, type PreparedBackbone } from './runtime/open';

function preparedClassical(m: ClassicalModel): PreparedBackbone {
  return {
    name: m.name,
    file: m.file ?? m.name,
    spec: m.spec,
    fingerprint: m.fingerprint,
    dim: m.dim,
    layer: m.kind,
    tensor: 'features',
    classical: m,
    precision: 'fp32',
    cutBytes: () => {
      throw new ConvfeatError(
        `${m.name} is a hand-engineered feature extractor, not an ONNX graph, so it cannot be fused into an ONNX export; score images with convfeat predict instead.`,
      );
    },
  };
}

/** Resolves the request, cuts the head (or reads the cached cut) and, for int8, quantises the cut. */
export async function prepareBackbone(request: BackboneRequest): Promise<PreparedBackbone> {
  const resolved = await resolveBackbone(request);
  if (resolved.kind === 'classical') return preparedClassical(resolved.model);
  const { name, file, entry, spec, layer, precision, storeDir } = resolved;
  const cut = cachedCut(file, layer, storeDir, name);
  if (precision === 'fp32') return { name, file, entry, spec, precision, ...cut };
  const q = int8Cut({
    name,
    fp32Fingerprint: cut.fingerprint,
    fp32Bytes: cut.cutBytes,
    tableFile: int8TablePath(entry, file, storeDir),
    storeDir,
    log: request.log,
  });
  return {
    name: modelNameWithPrecision(name, 'int8'),
    file,
    entry,
    spec,
    precision,
    int8: q.summary,
    dim: cut.dim,
    layer: cut.layer,
    tensor: cut.tensor,
    fingerprint: q.fingerprint,
    cutBytes: q.cutBytes,
  };
}
