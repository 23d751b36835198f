/**
 * One value for a batch of embeddings: `rows` vectors of `dim` float32 numbers, row-major in `data`. It travels
 * between stages (the backbone makes it, the cache stores it, the linear stage fits on it) so that a matrix never
 * goes anywhere without its shape, and a length that does not match its shape is refused where it enters.
 */
import { UsageError } from './errors';
import { invalid, show } from './validate';

export interface Embeddings {
  readonly data: Float32Array;
  readonly rows: number;
  readonly dim: number;
}

/** Largest embedding size accepted (VGG's fc7 is 4,096; a flattened conv map can reach a few hundred thousand). */
export const MAX_DIM = 1 << 24;

/**
 * Wraps N×dim row-major numbers as Embeddings; `rows` is data.length / dim, which must be whole.
 * @param name how errors name the value (the caller's parameter name).
 */
export function toEmbeddings(data: Float32Array, dim: number, name = 'data'): Embeddings {
  if (!(data instanceof Float32Array)) throw invalid(name, 'a Float32Array of N×dim embeddings', data);
  if (typeof dim !== 'number' || !Number.isInteger(dim) || dim < 1 || dim > MAX_DIM)
    throw invalid('dim', `an integer between 1 and ${MAX_DIM}`, dim);
  if (data.length % dim !== 0)
    throw new UsageError(
      `Expected ${name}.length to be a multiple of dim (${dim}) but received ${data.length}; the numbers are not whole ${dim}-d embeddings.`,
    );
  return { data, rows: data.length / dim, dim };
}

/**
 * The door check of a value that claims to be Embeddings: the right types, and data.length = rows × dim. Contents
 * (finite numbers) are the consumer's to check, once, where it reads them.
 */
export function checkEmbeddings(name: string, X: unknown): Embeddings {
  // A bare array of numbers (typed or not) is the usual slip: say how to wrap it rather than which field is missing.
  if (ArrayBuffer.isView(X) || Array.isArray(X))
    throw invalid(name, 'Embeddings { data, rows, dim } (wrap a Float32Array with toEmbeddings(data, dim))', X);
  if (X === null || typeof X !== 'object') throw invalid(name, 'Embeddings { data, rows, dim }', X);
  const { data, rows, dim } = X as Partial<Embeddings>;
  if (!(data instanceof Float32Array)) throw invalid(`${name}.data`, 'a Float32Array', data);
  if (typeof dim !== 'number' || !Number.isInteger(dim) || dim < 1 || dim > MAX_DIM)
    throw invalid(`${name}.dim`, `an integer between 1 and ${MAX_DIM}`, dim);
  if (typeof rows !== 'number' || !Number.isInteger(rows) || rows < 0)
    throw invalid(`${name}.rows`, 'a non-negative integer', rows);
  if (data.length !== rows * dim)
    throw new UsageError(
      `Expected ${name}.data.length to be ${name}.rows × ${name}.dim = ${rows} × ${dim} = ${rows * dim} but received ${show(data.length)}`,
    );
  return { data, rows, dim };
}

/**
 * The cosine between row i of `a` and row i of `b` (n rows each), for each i: how far two backbones' embeddings
 * agree (int8 against fp32). A row of zeros agrees only with zeros.
 */
export function rowCosines(a: Float32Array, b: Float32Array, n: number): number[] {
  const d = a.length / n;
  return Array.from({ length: n }, (_, i) => {
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let j = i * d; j < (i + 1) * d; j++) {
      ab += a[j]! * b[j]!;
      aa += a[j]! * a[j]!;
      bb += b[j]! * b[j]!;
    }
    return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : aa === bb ? 1 : 0;
  });
}
