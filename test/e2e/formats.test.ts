/**
 * docs/formats.md lists the fields of the outputs scripts read; this test runs the commands and checks that the
 * documented fields are exactly the emitted ones (issue 12), and that each output carries its format version.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { photos, REPO_ROOT, tmpDir } from '../support/data';
import { writeTinyBackbone } from '../support/tinyBackbone';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const DOC = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'formats.md'), 'utf8');

function run(args: string[]): string {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 300000 });
  if (r.status !== 0) throw new Error(`convfeat ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** The backticked names in the first column of the table under the heading `heading`. */
function documented(heading: string): string[] {
  const at = DOC.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`docs/formats.md has no heading ${heading}`);
  const rest = DOC.slice(at + heading.length + 2);
  const lines = rest.split('\n');
  const start = lines.findIndex((l) => l.startsWith('|'));
  const names: string[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const first = line.split('|')[1];
    for (const m of first.matchAll(/`([^`]+)`/g)) names.push(m[1]);
  }
  return names;
}

describe('docs/formats.md matches what convfeat writes', () => {
  const work = tmpDir('formats');
  const model = writeTinyBackbone(work);
  const data = path.join(work, 'data');
  const cache = path.join(work, 'cache');
  const clfFile = path.join(work, 'clf.json');
  let fitJson: Record<string, unknown>;

  beforeAll(() => {
    for (const cls of ['airplane', 'car', 'fruit']) {
      fs.mkdirSync(path.join(data, cls), { recursive: true });
      for (const p of photos('train', cls, 12)) fs.copyFileSync(p, path.join(data, cls, path.basename(p)));
    }
    run(['extract', '--model', model, '--data', data, '--cache', cache, '--quiet']);
    fitJson = JSON.parse(run(['fit-linear', '--cache', cache, '--out', clfFile, '--solver', 'softmax', '--json']));
  });

  test('fit-linear --json', () => {
    expect(fitJson.formatVersion).toBe(1);
    expect(Object.keys(fitJson).sort()).toEqual(documented('### `fit-linear --json`').sort());
  });

  test('evaluate --json (with --report, so the report field is there too)', () => {
    const out = JSON.parse(
      run(['evaluate', '--classifier', clfFile, '--cache', cache, '--json', '--report', path.join(work, 'report')]),
    );
    expect(out.formatVersion).toBe(1);
    expect(Object.keys(out).sort()).toEqual(documented('### `evaluate --json`').sort());
    expect(Object.keys(out.calibration).sort()).toEqual(
      ['ece', 'mce', 'bins', 'binning', 'meanConfidence', 'accuracy', 'table'].sort(),
    );
    expect(out.calibration.bins).toBe(15);
    const files = fs.readdirSync(path.join(work, 'report')).sort();
    expect(files).toEqual(
      documented('## `evaluate --report DIR`')
        .filter((f) => f !== 'curves.png' || files.includes('curves.png'))
        .sort(),
    );
  });

  test('predict CSV columns and JSONL fields, each row versioned', () => {
    const csv = path.join(work, 'p.csv');
    const jsonl = path.join(work, 'p.jsonl');
    run(['predict', '--classifier', clfFile, '--model', model, '--data', data, '--out', csv, '--quiet']);
    run(['predict', '--classifier', clfFile, '--model', model, '--data', data, '--out', jsonl, '--quiet']);
    const [header, first] = fs.readFileSync(csv, 'utf8').split('\n');
    expect(header.split(',')).toEqual(documented('### CSV (`--out preds.csv`)').filter((c) => c !== '…'));
    expect(first.split(',').pop()).toBe('1');
    const row = JSON.parse(fs.readFileSync(jsonl, 'utf8').split('\n')[0]);
    expect(row.formatVersion).toBe(1);
    expect(Object.keys(row).sort()).toEqual(documented('### JSONL (`--out preds.jsonl`), one object per image').sort());
  });

  test('the classifier file, with its provenance', () => {
    const clf = JSON.parse(fs.readFileSync(clfFile, 'utf8'));
    expect(Object.keys(clf).sort()).toEqual(documented('## The classifier file (`fit-linear --out clf.json`)').sort());
    expect(clf.version).toBe(1);
    const version = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).version;
    expect(clf.provenance.convfeatVersion).toBe(version);
    expect(Date.now() - Date.parse(clf.provenance.createdAt)).toBeLessThan(10 * 60 * 1000);
    expect(clf.provenance.trainingRows.count).toBe(36);
    expect(clf.provenance.trainingRows.sha256).toMatch(/^[0-9a-f]{64}$/);
    // Same rows → same digest; a refit on the same cache reproduces it.
    const again = path.join(work, 'clf2.json');
    run(['fit-linear', '--cache', cache, '--out', again, '--C', '1']);
    expect(JSON.parse(fs.readFileSync(again, 'utf8')).provenance.trainingRows.sha256).toBe(
      clf.provenance.trainingRows.sha256,
    );
  });
});
