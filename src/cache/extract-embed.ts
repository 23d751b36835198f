/** Extraction's embed step: preprocessed tensors of one batch → one contiguous NCHW input → the backbone's rows. */
import type { EmbeddingBackbone } from '../backbone/runtime/extractor';

/**
 * The model input of a run's batches, allocated once and refilled: a fresh 4.8 MB array per batch of 8 (ResNet50)
 * was half of the main thread's allocation per photo, and with it most of its garbage collection. The backbone has
 * finished reading its input when `embed` resolves, so the next batch may overwrite it.
 */
export class BatchInput {
  private buffer = new Float32Array(0);

  /** The tensors laid end to end, in a view of the reused buffer (grown when a batch needs more). */
  fill(tensors: readonly Float32Array[], perImage: number): Float32Array {
    const length = tensors.length * perImage;
    if (this.buffer.length < length) this.buffer = new Float32Array(length);
    const batch = this.buffer.subarray(0, length);
    tensors.forEach((tensor, i) => batch.set(tensor, i * perImage));
    return batch;
  }
}

export async function embedTensors(
  backbone: EmbeddingBackbone,
  tensors: readonly Float32Array[],
  perImage: number,
  input: BatchInput = new BatchInput(),
): Promise<Float32Array> {
  return backbone.embed(input.fill(tensors, perImage), tensors.length);
}
