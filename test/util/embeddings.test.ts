import { checkEmbeddings, rowCosines, toEmbeddings } from '../../src/util/embeddings';

test('rowCosines: per-row cosine, scale-free; orthogonal, opposite and zero rows', () => {
  const a = Float32Array.from([1, 0, 3, 4, 1, 1, 0, 0, 2, 0]);
  const b = Float32Array.from([0, 1, 6, 8, -1, -1, 0, 0, 0, 0]);
  const c = rowCosines(a, b, 5);
  expect(c[0]).toBe(0); // orthogonal
  expect(c[1]).toBeCloseTo(1, 12); // same direction, twice as long
  expect(c[2]).toBeCloseTo(-1, 12); // opposite
  expect(c[3]).toBe(1); // zeros against zeros
  expect(c[4]).toBe(0); // a row against zeros
});

test('toEmbeddings refuses numbers that are not whole rows', () => {
  expect(toEmbeddings(new Float32Array(6), 3)).toEqual({ data: new Float32Array(6), rows: 2, dim: 3 });
  expect(() => toEmbeddings(new Float32Array(7), 3)).toThrow(/multiple of dim \(3\)/);
});

test('checkEmbeddings: a bare array is told how to wrap it; a wrong length names the fields', () => {
  for (const bare of [[1, 2, 3], new Float32Array(3), new Float64Array(3)])
    expect(() => checkEmbeddings('X', bare)).toThrow(
      /^Expected X to be Embeddings \{ data, rows, dim \} \(wrap a Float32Array with toEmbeddings\(data, dim\)\)/,
    );
  expect(() => checkEmbeddings('X', { data: new Float32Array(5), rows: 2, dim: 3 })).toThrow(/X\.data\.length/);
  expect(checkEmbeddings('X', { data: new Float32Array(6), rows: 2, dim: 3 }).rows).toBe(2);
});
