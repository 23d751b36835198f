/** The batch input is one buffer refilled per batch: same values as a fresh concatenation, no new array per batch. */
import { BatchInput } from '../../src/cache/extract-embed';

const tensor = (per: number, seed: number) => Float32Array.from({ length: per }, (_, i) => seed * 1000 + i);

test('fill lays the tensors end to end, reusing one buffer across batches and growing it only when needed', () => {
  const input = new BatchInput();
  const per = 5;
  const a = input.fill([tensor(per, 1), tensor(per, 2), tensor(per, 3)], per);
  expect([...a]).toEqual([...tensor(per, 1), ...tensor(per, 2), ...tensor(per, 3)]);
  // a smaller (last) batch: a view of the same memory, exactly its own length, with the new values
  const b = input.fill([tensor(per, 7)], per);
  expect(b.length).toBe(per);
  expect(b.buffer).toBe(a.buffer);
  expect([...b]).toEqual([...tensor(per, 7)]);
  // a larger batch grows the buffer once
  const c = input.fill([tensor(per, 4), tensor(per, 5), tensor(per, 6), tensor(per, 8)], per);
  expect(c.buffer).not.toBe(a.buffer);
  expect([...c]).toEqual([...tensor(per, 4), ...tensor(per, 5), ...tensor(per, 6), ...tensor(per, 8)]);
  expect(input.fill([tensor(per, 9), tensor(per, 9)], per).buffer).toBe(c.buffer);
});
