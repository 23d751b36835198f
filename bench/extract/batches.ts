/** Batched input tensors for the raw onnxruntime loops the extraction benchmarks compare against. */
import * as ort from 'onnxruntime-node';

/** The decoded tensors cut into the batches the raw loop feeds (`dims`: one image's), built before any timing. */
export function batchesOf(tensors: readonly Float32Array[], batch: number, dims: readonly number[]): ort.Tensor[] {
  const out: ort.Tensor[] = [];
  const per = tensors[0]!.length;
  for (let i = 0; i < tensors.length; i += batch) {
    const n = Math.min(batch, tensors.length - i);
    const data = new Float32Array(n * per);
    for (let j = 0; j < n; j++) data.set(tensors[i + j]!, j * per);
    out.push(new ort.Tensor('float32', data, [n, ...dims]));
  }
  return out;
}
