import { parseShard, shardFilter, shardOfHash } from '../../src/cache/work-shard';
import { UsageError } from '../../src/util/errors';
import { hashOf } from './support/rows';
import { asCli } from '../support/cli';

describe('--shard i/n', () => {
  test('parses 0-based i/n', () => {
    expect(parseShard('0/4')).toEqual({ index: 0, count: 4 });
    expect(parseShard(' 3 / 4 ')).toEqual({ index: 3, count: 4 });
    expect(parseShard('0/1')).toEqual({ index: 0, count: 1 });
  });

  test.each(['4/4', '-1/4', '1/0', 'a/b', '1.5/4', '2', '', '1/2/3', '0/1000001'])(
    'refuses %j with a sentence',
    (text) => {
      expect(() => parseShard(text)).toThrow(UsageError);
      expect(() => parseShard(text)).toThrow(`Expected shard to be i/n with integers 0 ≤ i < n ≤ 1000000`);
      // The CLI's sentence is unchanged: its startup names the flag.
      expect(() => asCli(() => parseShard(text))).toThrow(
        `Expected --shard to be i/n with integers 0 ≤ i < n ≤ 1000000 (0-based, like JOB_COMPLETION_INDEX) but received ${JSON.stringify(text)}`,
      );
    },
  );

  test('refuses non-strings and names the option it came from', () => {
    expect(() => parseShard(2, 'shard')).toThrow(/Expected shard to be i\/n .* but received 2/);
  });

  test('the first 32 bits of the hash modulo n decide the part', () => {
    expect(shardOfHash('00000005' + '0'.repeat(56), 4)).toBe(1);
    expect(shardOfHash('ffffffff' + '0'.repeat(56), 7)).toBe(4294967295 % 7);
    expect(() => shardOfHash('XYZ', 4)).toThrow(UsageError);
    expect(() => shardFilter(4, 4)).toThrow(/Expected shard index to be an integer between 0 and 3 but received 4/);
  });

  test('n parts partition the hashes: each hash in exactly one part, every part used, same answer every time', () => {
    const hashes = Array.from({ length: 2000 }, (_, i) => hashOf(i));
    for (const n of [1, 3, 4, 16]) {
      const filters = Array.from({ length: n }, (_, i) => {
        const { index, count } = parseShard(`${i}/${n}`);
        return shardFilter(index, count);
      });
      const counts = new Array<number>(n).fill(0);
      for (const h of hashes) {
        const owners = filters.map((f, i) => (f(h) ? i : -1)).filter((i) => i >= 0);
        expect(owners).toEqual([shardOfHash(h, n)]);
        counts[owners[0]!]!++;
      }
      // sha256 is uniform: every part gets a fair share (2000/n ± 50 %)
      for (const c of counts) expect(Math.abs(c - 2000 / n)).toBeLessThan(1000 / n);
    }
  });
});
