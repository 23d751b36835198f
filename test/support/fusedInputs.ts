/**
 * Inputs for checking a fused export against the library path it replaces: the same real photos preprocessed twice,
 * as the backbone's input (its spec) and as the [0,1] RGB NCHW image the fused model takes.
 */
import * as fs from 'fs';
import { preprocess, type PreprocessSpec } from '../../src/preprocess';
import { photos } from './data';

export interface FusedInputs {
  /** Preprocessed by `spec`: what the backbone is fed. */
  network: Float32Array;
  /** The same photos as [0,1] RGB NCHW: what the fused model is fed. */
  unit: Float32Array;
  /** Each photo's class, its index in `classes`. */
  y: Int32Array;
  n: number;
}

/** `perClass` photos of each of `classes` from `split`, class by class; `pixels` floats per preprocessed image. */
export async function fusedInputs(
  spec: PreprocessSpec,
  split: string,
  classes: readonly string[],
  perClass: number,
  pixels: number,
): Promise<FusedInputs> {
  const unitSpec: PreprocessSpec = {
    ...spec,
    channelOrder: 'RGB',
    scale: 255,
    mean: [0, 0, 0],
    std: [1, 1, 1],
    layout: 'NCHW',
  };
  const files = classes.flatMap((c, k) => photos(split, c, perClass).map((f) => ({ f, k })));
  const network = new Float32Array(files.length * pixels);
  const unit = new Float32Array(files.length * pixels);
  for (const [i, { f }] of files.entries()) {
    const bytes = fs.readFileSync(f);
    network.set(await preprocess(bytes, { spec, exif: 'ignore' }), i * pixels);
    unit.set(await preprocess(bytes, { spec: unitSpec, exif: 'ignore' }), i * pixels);
  }
  return { network, unit, y: Int32Array.from(files.map((x) => x.k)), n: files.length };
}
