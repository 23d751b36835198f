/**
 * deploy/writers: predict's rows as a library writes them. A file appears whole only on commit (the earlier output
 * stays until then and after an abort); '-' streams to stdout; a folder in the way is refused naming the API
 * parameter; the formats are the ones docs/formats.md describes.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parse } from 'csv-parse/sync';
import {
  formatPrediction,
  openPredictionWriter,
  predictionFormatFor,
  predictionsCsvHeader,
  PREDICTIONS_FORMAT_VERSION,
} from '../../src/deploy/writers';
import type { Prediction } from '../../src/deploy/predict';
import { UsageError } from '../../src/util/errors';
import { tmpDir } from '../support/data';

const rows: Prediction[] = [
  {
    path: '/d/cat/=1.jpg',
    relPath: 'cat/=1.jpg',
    label: 'cat',
    top: [
      { label: 'cat', score: 0.9 },
      { label: 'dog', score: 0.1 },
    ],
  },
  { path: '/d/x, "y".jpg', relPath: 'x, "y".jpg', top: [{ label: 'dog', score: 0.6 }] },
];

let dir: string;
beforeEach(() => (dir = tmpDir('writers')));
afterEach(() => {
  jest.restoreAllMocks();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the format follows the extension unless given', () => {
  expect(predictionFormatFor('p.JSONL')).toBe('jsonl');
  expect(predictionFormatFor('p.json')).toBe('jsonl');
  expect(predictionFormatFor('p.csv')).toBe('csv');
  expect(predictionFormatFor('-')).toBe('csv');
  expect(predictionFormatFor('p.csv', 'jsonl')).toBe('jsonl');
  expect(() => predictionFormatFor('p.csv', 'xml' as 'csv')).toThrow(
    'Expected format to be one of "csv", "jsonl" but received "xml"',
  );
});

test('a CSV file appears whole on commit, parses back, and keeps the earlier file until then', () => {
  const out = path.join(dir, 'sub', 'preds.csv');
  fs.mkdirSync(path.dirname(out));
  fs.writeFileSync(out, 'earlier\n');
  const w = openPredictionWriter(out, { topK: 2 });
  expect(w.format).toBe('csv');
  expect(w.file).toBe(out);
  for (const r of rows) w.write(r);
  expect(fs.readFileSync(out, 'utf8')).toBe('earlier\n');
  w.commit();
  w.abort(); // after commit: nothing to undo
  const text = fs.readFileSync(out, 'utf8');
  expect(text).toBe(predictionsCsvHeader(2) + rows.map((r) => formatPrediction(r, 'csv', 2)).join(''));
  const parsed = parse(text, { columns: true }) as Record<string, string>[];
  expect(parsed).toEqual([
    {
      path: '/d/cat/=1.jpg',
      label: 'cat',
      pred1: 'cat',
      score1: '0.900000',
      pred2: 'dog',
      score2: '0.100000',
      format_version: '1',
    },
    { path: '/d/x, "y".jpg', label: '', pred1: 'dog', score1: '0.600000', pred2: '', score2: '', format_version: '1' },
  ]);
  expect(fs.readdirSync(path.dirname(out))).toEqual(['preds.csv']);
});

test('JSONL rows carry the format version; abort keeps the earlier file and leaves no temp', () => {
  const out = path.join(dir, 'preds.jsonl');
  const w = openPredictionWriter(out, { topK: 1 });
  w.write(rows[0]!);
  w.commit();
  expect(fs.readFileSync(out, 'utf8')).toBe(
    `${JSON.stringify({ ...rows[0], formatVersion: PREDICTIONS_FORMAT_VERSION })}\n`,
  );
  const again = openPredictionWriter(out, { topK: 1 });
  again.write(rows[1]!);
  again.abort();
  expect(JSON.parse(fs.readFileSync(out, 'utf8')).path).toBe(rows[0]!.path);
  expect(fs.readdirSync(dir)).toEqual(['preds.jsonl']);
});

test("'-' writes the header and each row to stdout as it comes", () => {
  const written: string[] = [];
  jest
    .spyOn(process.stdout, 'write')
    .mockImplementation(((s: string) => written.push(s) > 0) as typeof process.stdout.write);
  const w = openPredictionWriter('-', { topK: 1 });
  expect(w.file).toBeUndefined();
  expect(written).toEqual([predictionsCsvHeader(1)]);
  w.write(rows[0]!);
  expect(written).toHaveLength(2);
  w.commit();
  expect(written[1]).toBe(formatPrediction(rows[0]!, 'csv', 1));
});

test('a folder as the output, and a bad topK, are refused naming the API parameter', () => {
  expect(() => openPredictionWriter(dir, { topK: 1 })).toThrow(UsageError);
  expect(() => openPredictionWriter(dir, { topK: 1 })).toThrow(
    `out ${dir} is a directory; give a file name such as ${path.join(dir, 'preds.csv')}.`,
  );
  expect(() => openPredictionWriter(path.join(dir, 'p.csv'), { topK: 0 })).toThrow(
    /^Expected topK to be an integer between 1 and/,
  );
  expect(() => openPredictionWriter('', { topK: 1 })).toThrow('Expected out to be a non-empty string but received ""');
});
