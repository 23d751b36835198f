/**
 * The house follows the data (ARCHITECTURE.md): an image travels dataset → preprocess → backbone → cache → linear →
 * report / deploy / audit, and no stage imports a later one; the three top stages are siblings and import none of
 * each other; commands sit above everything and nothing in the library imports them. util/ is below every stage.
 * This reads every relative import under src/ and fails on the first edge that goes the wrong way.
 */
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from './support/data';

const SRC = path.join(REPO_ROOT, 'src');
const RANK: Record<string, number> = {
  util: 0,
  dataset: 1,
  preprocess: 2,
  backbone: 3,
  cache: 4,
  linear: 5,
  report: 6,
  deploy: 6,
  audit: 6,
  commands: 7,
};

function sources(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
    );
}

function stageOf(file: string): string {
  return path.relative(SRC, file).split(path.sep)[0]!.replace(/\.ts$/, '');
}

function wrongWayImports(): string[] {
  const wrong: string[] = [];
  for (const file of sources(SRC)) {
    const from = stageOf(file);
    if (!(from in RANK)) continue; // index.ts and cli.ts: the doors, above the stages
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from|import\()\s*'(\.[^']+)'/g)) {
      const to = stageOf(path.resolve(path.dirname(file), m[1]!));
      if (!(to in RANK) || to === from) continue;
      if (RANK[to]! >= RANK[from]!) wrong.push(`${path.relative(SRC, file)} imports ${m[1]} (${from} → ${to})`);
    }
  }
  return wrong;
}

test('no stage imports a later stage or a sibling, and the library never imports commands', () => {
  expect(wrongWayImports()).toEqual([]);
});

test('every stage folder named in the architecture exists', () => {
  for (const stage of Object.keys(RANK)) expect(fs.statSync(path.join(SRC, stage)).isDirectory()).toBe(true);
});
