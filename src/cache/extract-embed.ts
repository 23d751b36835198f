/** Extraction's embed step: preprocessed tensors of one batch → one contiguous NCHW input → the backbone's rows. */
import type { EmbeddingBackbone } from '../backbone/runtime/extractor';

export async function embedTensors(
  backbone: EmbeddingBackbone,
  tensors: readonly Float32Array[],
  perImage: number,
): Promise<Float32Array> {
  const batch = new Float32Array(tensors.length * perImage);
  tensors.forEach((tensor, i) => batch.set(tensor, i * perImage));
  return backbone.embed(batch, tensors.length);
}
