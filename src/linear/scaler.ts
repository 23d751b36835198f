/**
 * Feature scalers, fitted on training embeddings and stored in the classifier so prediction sees the same scaling.
 * `l2` normalises each row (stateless; for embeddings whose norms vary with image content), `standard` centres and
 * scales each feature (a constant feature keeps std 1 so it never divides by zero), `none` (the default, as
 * fit-linear's: on ResNet50 features it measured best, README).
 */
import { ConvfeatError } from '../util/errors';
import { oneOf } from '../util/validate';

export const SCALE_KINDS = ['l2', 'standard', 'none'] as const;
export type ScaleKind = (typeof SCALE_KINDS)[number];

export interface ScalerJson {
  kind: ScaleKind;
  dim: number;
  mean?: number[];
  std?: number[];
}

export class Scaler {
  readonly kind: ScaleKind;
  dim = 0;
  mean?: Float64Array;
  std?: Float64Array;

  constructor(kind: ScaleKind = 'none') {
    this.kind = oneOf('scale', kind, SCALE_KINDS);
  }

  fit(X: Float32Array, dim: number): this {
    this.dim = dim;
    if (this.kind !== 'standard') return this;
    const n = X.length / dim;
    const mean = new Float64Array(dim);
    const sq = new Float64Array(dim);
    for (let i = 0; i < n; i++) {
      const off = i * dim;
      for (let j = 0; j < dim; j++) mean[j] += X[off + j];
    }
    for (let j = 0; j < dim; j++) mean[j] /= n;
    for (let i = 0; i < n; i++) {
      const off = i * dim;
      for (let j = 0; j < dim; j++) {
        const d = X[off + j] - mean[j];
        sq[j] += d * d;
      }
    }
    const std = new Float64Array(dim);
    for (let j = 0; j < dim; j++) {
      const s = Math.sqrt(sq[j] / n);
      std[j] = s > 1e-12 * Math.max(1, Math.abs(mean[j])) ? s : 1;
    }
    this.mean = mean;
    this.std = std;
    return this;
  }

  /** Returns a new scaled copy (the input is never modified: it may be a cache's memory). */
  transform(X: Float32Array, out?: Float32Array): Float32Array {
    const dim = this.dim;
    const res = out ?? new Float32Array(X.length);
    const n = X.length / dim;
    if (this.kind === 'none') {
      res.set(X);
    } else if (this.kind === 'l2') {
      for (let i = 0; i < n; i++) {
        const off = i * dim;
        let s = 0;
        for (let j = 0; j < dim; j++) s += X[off + j] * X[off + j];
        // An all-zero row stays zero rather than becoming NaN.
        const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
        for (let j = 0; j < dim; j++) res[off + j] = X[off + j] * inv;
      }
    } else {
      const mean = this.mean!;
      const std = this.std!;
      for (let i = 0; i < n; i++) {
        const off = i * dim;
        for (let j = 0; j < dim; j++) res[off + j] = (X[off + j] - mean[j]) / std[j];
      }
    }
    return res;
  }

  toJSON(): ScalerJson {
    const json: ScalerJson = { kind: this.kind, dim: this.dim };
    if (this.mean && this.std) {
      json.mean = Array.from(this.mean);
      json.std = Array.from(this.std);
    }
    return json;
  }

  static fromJSON(json: ScalerJson): Scaler {
    const s = new Scaler(json.kind);
    s.dim = json.dim;
    if (json.kind === 'standard') {
      if (
        !Array.isArray(json.mean) ||
        !Array.isArray(json.std) ||
        json.mean.length !== json.dim ||
        json.std.length !== json.dim
      ) {
        throw new ConvfeatError(
          'The classifier file has a standard scaler without mean and std of its dimension; refit the classifier.',
        );
      }
      s.mean = Float64Array.from(json.mean);
      s.std = Float64Array.from(json.std);
    }
    return s;
  }
}
