/**
 * The fingerprint of a backbone is the identity that caches and classifiers record: embeddings from different cut
 * models must never be mixed. It hashes the bytes of the cut model (weights, graph and the chosen embedding layer), so
 * the same classifier file cut at two layers gives two fingerprints.
 */
import { sha256Hex } from '../../util/hash';
import { invalid } from '../../util/validate';

export const FINGERPRINT_LENGTH = 16;

export function modelFingerprint(cutModelBytes: Uint8Array): string {
  if (!(cutModelBytes instanceof Uint8Array) || cutModelBytes.length === 0) {
    throw invalid(
      'the cut model',
      'non-empty ONNX bytes (a Uint8Array)',
      cutModelBytes instanceof Uint8Array ? 'an empty buffer' : cutModelBytes,
    );
  }
  return sha256Hex(cutModelBytes).slice(0, FINGERPRINT_LENGTH);
}
