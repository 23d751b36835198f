/**
 * `cache export` writes its four files as one set: killed at any point, --out holds one complete export (the
 * earlier or the new one) or nothing, never X.npy of one split beside y.npy/paths.txt of another.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { exportCache } from '../../src/cache/export';
import { ListingEntry, ListingWriter } from '../../src/cache/listing';
import { EmbeddingStore } from '../../src/cache/store';
import { readNpySync } from '../../src/util/npy';
import { tmpDir } from '../support/data';
import { transpileSources } from './support/compile';
import { hashOf, IDENTITY, rowsFor } from './support/rows';
import { asCli } from '../support/cli';

const D = IDENTITY.dim;
const CHILD = path.join(__dirname, 'support', 'export-child.js');
// Same row count in both splits: a mixed set would have matching shapes, so only pairing checks can see it.
const CLASSES = ['cat', 'dog', 'fox'];
const ENTRIES: ListingEntry[] = ['train', 'val'].flatMap((split, s) =>
  CLASSES.map((label, i) => ({
    relPath: `${split}/${label}/${i}.jpg`,
    path: `/data/${split}/${label}/${i}.jpg`,
    label: CLASSES[(i + s) % 3]!, // val's labels are a rotation of train's
    split: split as ListingEntry['split'],
    hash: hashOf(`${split}-${i}`),
  })),
);

let exportModule: string;
let cache: string;
beforeAll(() => {
  const out = tmpDir('export-build');
  transpileSources(out, ['util', 'dataset', 'cache']);
  exportModule = path.join(out, 'src', 'cache', 'export.js');
  cache = tmpDir('export-set-cache');
  const store = EmbeddingStore.open(cache, { mode: 'write', identity: IDENTITY });
  const hashes = ENTRIES.map((e) => e.hash);
  store.putBatch(hashes, rowsFor(hashes, D));
  const writer = new ListingWriter(cache);
  ENTRIES.forEach((e) => writer.add(e));
  writer.commit();
  store.close();
});

/** Which split the folder's set is, checking that X, y, classes and paths all belong to that one export. */
function splitOfSet(out: string): string {
  const paths = fs.readFileSync(path.join(out, 'paths.txt'), 'utf8').trim().split('\n');
  const byPath = new Map(ENTRIES.map((e) => [e.path, e]));
  const rows = paths.map((p) => byPath.get(p)!);
  const X = readNpySync(path.join(out, 'X.npy')).data as Float32Array;
  const y = Array.from(readNpySync(path.join(out, 'y.npy')).data as BigInt64Array, Number);
  const classes = JSON.parse(fs.readFileSync(path.join(out, 'classes.json'), 'utf8')) as string[];
  expect(X).toEqual(
    rowsFor(
      rows.map((e) => e.hash),
      D,
    ),
  );
  expect(y.map((c) => classes[c])).toEqual(rows.map((e) => e.label));
  const splits = new Set(rows.map((e) => e.split));
  expect(splits.size).toBe(1);
  return [...splits][0]!;
}

function siblingsOf(out: string): string[] {
  return fs.readdirSync(path.dirname(out)).filter((n) => n.startsWith(`.${path.basename(out)}.`));
}

describe('cache export is atomic as a set', () => {
  const points = [
    'export-file-written:2',
    'export-file-renamed:3',
    'export-staged',
    'export-old-moved-aside',
    'export-swapped',
  ];
  test.each(points)('killed at %s while replacing a train export with val: never a mixed set', (point) => {
    const out = path.join(tmpDir('export-set'), 'features');
    exportCache(cache, { out, split: 'train' });
    expect(splitOfSet(out)).toBe('train');
    const env = { ...process.env, CONVFEAT_CRASH_AT: point };
    const child = spawnSync(process.execPath, [CHILD, exportModule, cache, out, 'val'], { encoding: 'utf8', env });
    expect(child.signal).toBe('SIGKILL');
    if (point === 'export-old-moved-aside')
      expect(fs.existsSync(out)).toBe(false); // between the two renames
    else expect(splitOfSet(out)).toBe(point === 'export-swapped' ? 'val' : 'train');
    expect(siblingsOf(out).length).toBeGreaterThan(0); // what the killed run left…
    exportCache(cache, { out, split: 'val' });
    expect(splitOfSet(out)).toBe('val');
    expect(siblingsOf(out)).toEqual([]); // …is gone after the next export
  });

  test('a live export’s staging folder is left alone; --out with other files or a file is refused', () => {
    const root = tmpDir('export-refuse');
    const out = path.join(root, 'features');
    const live = path.join(root, `.features.export-${process.pid}-0123abcd`);
    fs.mkdirSync(live);
    exportCache(cache, { out, split: 'train' });
    expect(fs.existsSync(live)).toBe(true);
    fs.writeFileSync(path.join(out, 'notes.md'), 'mine');
    expect(() => exportCache(cache, { out, split: 'val' })).toThrow(`out ${out} holds other files than an export`);
    expect(() => asCli(() => exportCache(cache, { out, split: 'val' }))).toThrow(
      `--out ${out} holds other files than an export (notes.md); cache export replaces the whole folder so that its four files always belong together: choose a new or empty folder.`,
    );
    expect(splitOfSet(out)).toBe('train');
    const file = path.join(root, 'plain-file');
    fs.writeFileSync(file, '');
    expect(() => exportCache(cache, { out: file })).toThrow(`out ${file} is a file, not a folder`);
    expect(() => asCli(() => exportCache(cache, { out: file }))).toThrow(`--out ${file} is a file, not a folder`);
  });
});
