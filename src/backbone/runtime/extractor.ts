/** What later stages need of an opened backbone: its identity, its input transform, and batched inference. */
import type { TransformOptions } from '../../preprocess/options';

export interface BackboneIdentity {
  model: string;
  modelFingerprint: string;
  preprocessFingerprint: string;
  dim: number;
}

export interface EmbeddingBackbone {
  identity: BackboneIdentity;
  transform: TransformOptions;
  /** 'cpu', 'cuda' or 'cuda:N'. */
  provider: string;
  /** n preprocessed images in, [n, dim] float32 out. Blocks the event loop while onnxruntime runs. */
  embed(batch: Float32Array, n: number): Promise<Float32Array>;
}
