/**
 * Deterministic crash injection for the tests of the write protocol. With CONVFEAT_CRASH_AT=<point> (or
 * <point>:<n> for its n-th passage, 1-based) the process SIGKILLs itself when it reaches that named point, so a test
 * can stop a writer between any two steps (shard written, fsynced, renamed, index appended, fsynced…) and prove
 * that the next run recovers. Unset, each point costs one environment lookup.
 */
const passes = new Map<string, number>();

export function crashPoint(point: string): void {
  const wanted = process.env.CONVFEAT_CRASH_AT;
  if (wanted === undefined || wanted === '') return;
  const colon = wanted.lastIndexOf(':');
  const name = colon > 0 ? wanted.slice(0, colon) : wanted;
  if (name !== point) return;
  const nth = colon > 0 ? Number(wanted.slice(colon + 1)) : 1;
  const count = (passes.get(point) ?? 0) + 1;
  passes.set(point, count);
  if (count !== nth) return;
  // SIGKILL, like a power cut for this process: no exit hooks, no finally blocks, no buffered writes flushed.
  process.kill(process.pid, 'SIGKILL');
  const park = new Int32Array(new SharedArrayBuffer(4));
  for (;;) Atomics.wait(park, 0, 0, 1000); // the signal lands before this returns
}
