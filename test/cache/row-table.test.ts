/** The store's lookup table: hash → (shard, row) with dense ids in typed arrays. */
import { hexOf, keyOf, RowTable } from '../../src/cache/row-table';
import { hashOf } from './support/rows';

function locate(t: RowTable, hash: string): [number, number] | undefined {
  const id = t.idOf(keyOf(hash));
  return id === undefined ? undefined : [t.shardOf[id]!, t.rowOf[id]!];
}

describe('RowTable', () => {
  test('keys are the 32 bytes of a hash and round-trip to hex', () => {
    const h = hashOf(1);
    expect(keyOf(h)).toHaveLength(32);
    expect(hexOf(keyOf(h))).toBe(h);
  });

  test('set, move and look up past the initial capacity; ids stay dense after deletions', () => {
    const t = new RowTable('/c');
    const hashes = Array.from({ length: 3000 }, (_, i) => hashOf(i));
    hashes.forEach((h, i) => t.set(keyOf(h), i % 7, i));
    expect(t.size).toBe(3000);
    expect(locate(t, hashes[2500]!)).toEqual([2500 % 7, 2500]);
    t.set(keyOf(hashes[5]!), 9, 0); // a replacement line moves a hash, keeping its id
    expect(t.size).toBe(3000);
    expect(locate(t, hashes[5]!)).toEqual([9, 0]);
    t.deleteAll(hashes.filter((_, i) => i % 2 === 0).map(keyOf));
    expect(t.size).toBe(1500);
    expect(locate(t, hashes[4]!)).toBeUndefined();
    expect(locate(t, hashes[2501]!)).toEqual([2501 % 7, 2501]);
    expect([...t.ids.values()].sort((a, b) => a - b)).toEqual(Array.from({ length: 1500 }, (_, i) => i));
    t.set(keyOf(hashes[4]!), 1, 1); // the next id is size again
    expect(t.idOf(keyOf(hashes[4]!))).toBe(1500);
    t.clear();
    expect(t.size).toBe(0);
  });
});
