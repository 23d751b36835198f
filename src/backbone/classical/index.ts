/**
 * Hand-engineered ("classical") feature extractors behind the same face as a frozen ConvNet, so extract → cache →
 * fit-linear → evaluate → report → predict work unchanged and deep features can be compared with traditional
 * computer vision on the same splits and C search. The pixels come from the shared preprocessing (decode, resize,
 * crop) as interleaved RGB in 0–255; the features are computed on the main thread (they are cheap next to a ConvNet).
 *
 *   classical:hog         HOG, Dalal & Triggs 2005, on a 128×128 crop: 8,100-d
 *   classical:color-hist  joint HSV histogram 16×4×4, Swain & Ballard 1991, on a 128×128 crop: 256-d
 *   classical:orb-bow     bag of ORB visual words with a 1+2×2 spatial pyramid on a 224×224 crop; needs a codebook
 *                         fitted on the train split (convfeat models codebook), passed as --model CODEBOOK.json
 */
import * as path from 'path';
import type { PreprocessSpec } from '../../preprocess/spec';
import { BOW_SPEC, SMALL_SPEC } from './specs';
import { canonicalJson, sha256Hex } from '../../util/hash';
import { ConvfeatError, UsageError } from '../../util/errors';
import { FINGERPRINT_LENGTH } from '../graph/fingerprint';
import { DALAL_TRIGGS, hog, hogDimension } from './hog';
import { COLOR_HIST_DEFAULT, colorHistDimension, colorHistogram } from './colorHist';
import { bowDimension, codebookDigest, looksLikeCodebook, readCodebook, WordAssigner, type Codebook } from './codebook';
import { openOrb } from './orb';

export const CLASSICAL_PREFIX = 'classical:';
export const CLASSICAL_KINDS = ['hog', 'color-hist', 'orb-bow'] as const;
export type ClassicalKind = (typeof CLASSICAL_KINDS)[number];

/** Bumped whenever a feature's arithmetic changes, so old caches and classifiers are refused. */
const IMPLEMENTATION = 1;

export interface ClassicalModel {
  kind: ClassicalKind;
  /** `classical:hog`, … — what caches and classifiers record as the model name. */
  name: string;
  /** The codebook file, for orb-bow. */
  file?: string;
  spec: PreprocessSpec;
  dim: number;
  fingerprint: string;
  codebook?: Codebook;
  description: string;
}

export function isClassicalRequest(model: string): boolean {
  return model.startsWith(CLASSICAL_PREFIX) || looksLikeCodebook(model);
}

function fingerprintOf(kind: ClassicalKind, params: unknown, spec: PreprocessSpec, codebook?: Codebook): string {
  return sha256Hex(
    canonicalJson({
      classical: kind,
      implementation: IMPLEMENTATION,
      params,
      spec,
      codebook: codebook ? codebookDigest(codebook) : null,
    }),
  ).slice(0, FINGERPRINT_LENGTH);
}

/** Resolves `classical:hog`, `classical:color-hist`, or a codebook file (orb-bow) to a model description. */
export function resolveClassical(model: string): ClassicalModel {
  if (!model.startsWith(CLASSICAL_PREFIX)) {
    const file = path.resolve(model);
    const codebook = readCodebook(file);
    const spec = BOW_SPEC;
    return {
      kind: 'orb-bow',
      name: `${CLASSICAL_PREFIX}orb-bow`,
      file,
      spec,
      dim: bowDimension(codebook),
      fingerprint: fingerprintOf('orb-bow', { maxFeatures: 500 }, spec, codebook),
      codebook,
      description: `bag of ${codebook.words} ORB visual words, pyramid ${codebook.pyramid.join('+')}`,
    };
  }
  const kind = model.slice(CLASSICAL_PREFIX.length);
  if (kind === 'hog') {
    const spec = SMALL_SPEC;
    return {
      kind,
      name: model,
      spec,
      dim: hogDimension(128, 128, DALAL_TRIGGS),
      fingerprint: fingerprintOf(kind, DALAL_TRIGGS, spec),
      description: 'HOG (Dalal & Triggs 2005), 8×8 cells, 2×2 blocks, 9 bins, L2-Hys',
    };
  }
  if (kind === 'color-hist') {
    const spec = SMALL_SPEC;
    return {
      kind,
      name: model,
      spec,
      dim: colorHistDimension(COLOR_HIST_DEFAULT),
      fingerprint: fingerprintOf(kind, COLOR_HIST_DEFAULT, spec),
      description: 'joint HSV colour histogram 16×4×4, Hellinger-mapped',
    };
  }
  if (kind === 'orb-bow') {
    throw new UsageError(
      'classical:orb-bow needs a codebook fitted on your train split: run `convfeat models codebook --data DIR --out orb-bow.json`, then pass --model orb-bow.json.',
    );
  }
  throw new UsageError(
    `Expected --model classical:NAME to name one of ${CLASSICAL_KINDS.map((k) => CLASSICAL_PREFIX + k).join(', ')} but received ${JSON.stringify(model)}`,
  );
}

export type BatchEmbedder = ((batch: Float32Array, n: number) => Promise<Float32Array>) & { close(): void };

/** Batched feature computation over preprocessed NHWC RGB tensors (0–255). */
export async function classicalEmbedder(m: ClassicalModel): Promise<BatchEmbedder> {
  const { height, width } = m.spec.crop!;
  const perImage = height * width * 3;
  const dim = m.dim;
  const check = (batch: Float32Array, n: number): Float32Array => {
    if (batch.length !== n * perImage)
      throw new ConvfeatError(
        `Expected ${n} images of ${height}×${width}×3 values but received ${batch.length} values.`,
      );
    return new Float32Array(n * dim);
  };
  if (m.kind === 'hog' || m.kind === 'color-hist') {
    const run = async (batch: Float32Array, n: number): Promise<Float32Array> => {
      const out = check(batch, n);
      for (let i = 0; i < n; i++) {
        const img = batch.subarray(i * perImage, (i + 1) * perImage);
        if (m.kind === 'hog') hog(img, height, width, out, i * dim);
        else colorHistogram(img, height * width, out, i * dim);
      }
      return out;
    };
    return Object.assign(run, { close: () => undefined });
  }
  const orb = await openOrb(500);
  const words = new WordAssigner(m.codebook!);
  const run = async (batch: Float32Array, n: number): Promise<Float32Array> => {
    const out = check(batch, n);
    for (let i = 0; i < n; i++) {
      words.encode(orb.features(batch.subarray(i * perImage, (i + 1) * perImage), height, width), out, i * dim);
    }
    return out;
  };
  return Object.assign(run, { close: () => orb.close() });
}

export { readCodebook, writeCodebook, fitCodebook, type Codebook } from './codebook';
export { openOrb } from './orb';
