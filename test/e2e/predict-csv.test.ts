/**
 * predict's CSV read back by a real CSV parser (issue 17; issue 13 item 10): file and class names with commas,
 * quotes, line breaks and formula-leading characters come back exactly (formula-leading cells with OWASP's leading
 * apostrophe), and agree row by row with the JSONL output, which stays raw.
 */
import { spawnSync } from 'child_process';
import { parse } from 'csv-parse/sync';
import * as fs from 'fs';
import * as path from 'path';
import { photos, REPO_ROOT, tmpDir } from '../support/data';
import { writeTinyBackbone } from '../support/tinyBackbone';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const neutral = (v: string): string => (/^[=+\-@\t\r]/.test(v) ? `'${v}` : v);

// Class folder (label) → its photos' hostile file names.
const CLASSES: Record<string, string[]> = {
  '=1+2': ['a,b.jpg', 'say "hi".jpg', 'two\nlines.jpg', '=cmd.jpg', 'plain.jpg'],
  'cars, "fast"': ['+1.jpg', '-1.jpg', '@SUM(1).jpg', '\tTab.jpg', 'p2.jpg'],
  '@fruit\nbasket': ['x.jpg', 'y,.jpg', '"q".jpg', 'cr\r.jpg', 'z.jpg'],
};
const SOURCES = ['airplane', 'car', 'fruit'];

describe('predict CSV round trip', () => {
  const work = tmpDir('predict-csv');
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
  const model = writeTinyBackbone(work);
  const data = path.join(work, 'data');
  const expected = new Map<string, string>(); // path → label
  Object.entries(CLASSES).forEach(([label, names], c) => {
    fs.mkdirSync(path.join(data, label), { recursive: true });
    const srcs = photos('train', SOURCES[c]!, names.length);
    names.forEach((name, i) => {
      const file = path.join(data, label, name);
      fs.copyFileSync(srcs[i]!, file);
      expected.set(file, label);
    });
  });

  test('paths and labels with commas, quotes, newlines and formula characters parse back exactly', () => {
    const cache = path.join(work, 'cache');
    const clf = path.join(work, 'clf.json');
    const extract = run(['extract', '--model', model, '--data', data, '--cache', cache, '--quiet']);
    expect(extract.stderr).toBe('');
    expect(extract.code).toBe(0);
    const fit = run(['fit-linear', '--cache', cache, '--out', clf, '--C', '1', '--quiet']);
    expect(fit.code).toBe(0);

    const csvOut = path.join(work, 'p.csv');
    const jsonlOut = path.join(work, 'p.jsonl');
    const base = ['predict', '--classifier', clf, '--model', model, '--data', data, '--top-k', '3', '--quiet'];
    expect(run([...base, '--out', csvOut]).code).toBe(0);
    expect(run([...base, '--out', jsonlOut]).code).toBe(0);

    const records = parse(fs.readFileSync(csvOut, 'utf8')) as string[][];
    expect(records[0]).toEqual([
      'path',
      'label',
      'pred1',
      'score1',
      'pred2',
      'score2',
      'pred3',
      'score3',
      'format_version',
    ]);
    const body = records.slice(1);
    expect(body).toHaveLength(expected.size);
    const labels = Object.keys(CLASSES);
    for (const row of body) {
      expect(row).toHaveLength(9);
      expect(row[8]).toBe('1');
      const [file, label, ...top] = row;
      expect(expected.has(file!)).toBe(true);
      expect(label).toBe(neutral(expected.get(file!)!));
      // Each of the three predictions is one of the three (neutralised) class names, once each.
      expect([top[0], top[2], top[4]].sort()).toEqual(labels.map(neutral).sort());
      for (const s of [top[1], top[3], top[5]]) expect(Number(s)).toBeGreaterThanOrEqual(0);
    }
    expect(new Set(body.map((r) => r[0]))).toEqual(new Set(expected.keys()));

    // JSONL is raw: the same rows, names unaltered, and the CSV is its neutralised image.
    const jsonl = fs
      .readFileSync(jsonlOut, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { path: string; label: string; top: Array<{ label: string; score: number }> });
    expect(jsonl).toHaveLength(body.length);
    jsonl.forEach((j, i) => {
      expect(j.label).toBe(expected.get(j.path));
      const row = body[i]!;
      expect(row[0]).toBe(j.path);
      expect(row[1]).toBe(neutral(j.label));
      expect(row[2]).toBe(neutral(j.top[0]!.label));
      expect(Number(row[3])).toBeCloseTo(j.top[0]!.score, 5);
    });
  });
});
