/**
 * Door checks for preprocessing options: a spec usually comes from the model manifest (JSON written by people), so
 * every field is checked once here and the pixel code trusts it afterwards.
 */
import { invalid, integerInRange, oneOf, positiveNumber } from '../util/validate';
import type { PreprocessOptions, PreprocessSpec } from './spec';
import { DEFAULT_MAX_PIXELS } from './decode';

/** Preprocessing options plus the decoder's pixel limit (not part of the fingerprint: it changes no pixel). */
export interface TransformOptions extends PreprocessOptions {
  /** Decompression-bomb guard in pixels (width × height); default 100 megapixels. */
  maxPixels?: number;
}

const MAX_SIDE = 16384;

function triple(name: string, value: unknown, check: (n: string, v: unknown) => number): [number, number, number] {
  if (!Array.isArray(value) || value.length !== 3) throw invalid(name, 'an array of 3 numbers', value);
  return [check(`${name}[0]`, value[0]), check(`${name}[1]`, value[1]), check(`${name}[2]`, value[2])];
}

function finite(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(name, 'a finite number', value);
  return value;
}

export function validateSpec(spec: unknown, name = 'preprocessing spec'): PreprocessSpec {
  if (typeof spec !== 'object' || spec === null) throw invalid(name, 'an object', spec);
  const s = spec as Record<string, unknown>;
  const resize = s.resize as Record<string, unknown> | undefined;
  if (typeof resize !== 'object' || resize === null) throw invalid(`${name}.resize`, 'an object', resize);
  const mode = oneOf(`${name}.resize.mode`, resize.mode, ['shorter', 'exact', 'none'] as const);
  if (mode === 'shorter') integerInRange(`${name}.resize.size`, resize.size, 1, MAX_SIDE);
  if (mode === 'exact') {
    integerInRange(`${name}.resize.height`, resize.height, 1, MAX_SIDE);
    integerInRange(`${name}.resize.width`, resize.width, 1, MAX_SIDE);
  }
  oneOf(`${name}.interpolation`, s.interpolation, ['bilinear', 'nearest'] as const);
  if (s.crop !== undefined) {
    const crop = s.crop as Record<string, unknown>;
    if (typeof crop !== 'object' || crop === null) throw invalid(`${name}.crop`, 'an object or undefined', crop);
    integerInRange(`${name}.crop.height`, crop.height, 1, MAX_SIDE);
    integerInRange(`${name}.crop.width`, crop.width, 1, MAX_SIDE);
  }
  oneOf(`${name}.channelOrder`, s.channelOrder, ['RGB', 'BGR'] as const);
  if (s.scale !== 1 && s.scale !== 255) throw invalid(`${name}.scale`, '1 or 255', s.scale);
  triple(`${name}.mean`, s.mean, finite);
  triple(`${name}.std`, s.std, positiveNumber);
  oneOf(`${name}.layout`, s.layout, ['NCHW', 'NHWC'] as const);
  return spec as PreprocessSpec;
}

export function validateTransformOptions(opts: unknown, name = 'preprocessing options'): TransformOptions {
  if (typeof opts !== 'object' || opts === null) throw invalid(name, 'an object', opts);
  const o = opts as Record<string, unknown>;
  validateSpec(o.spec, `${name}.spec`);
  oneOf(`${name}.exif`, o.exif, ['apply', 'ignore'] as const);
  if (o.maxPixels !== undefined) integerInRange(`${name}.maxPixels`, o.maxPixels, 1, Number.MAX_SAFE_INTEGER);
  return opts as TransformOptions;
}

export { DEFAULT_MAX_PIXELS };
