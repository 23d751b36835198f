/**
 * CSV cells (issue 13 item 10, issue 17): quoting that a real CSV parser (csv-parse) reads back exactly, and
 * OWASP neutralisation of formula-leading cells.
 */
import { parse } from 'csv-parse/sync';
import { csvCell, csvRow, neutraliseCell } from '../../src/util/csv';

const HOSTILE = [
  'plain',
  'a,b',
  'say "hi"',
  'two\nlines',
  'cr\rinside',
  'crlf\r\nend',
  '=1+2',
  '=HYPERLINK("http://x","y")',
  '+1',
  '-1',
  '@SUM(1)',
  '\tTab',
  '\rCR',
  ' padded ',
  '',
  '"',
  ',',
  'ünïcödé,😀',
];

describe('CSV writer', () => {
  test('every hostile cell survives a round trip through csv-parse (neutralised where it leads with a formula)', () => {
    const text = HOSTILE.map((v, i) => csvRow([String(i), v, `${v}|tail`])).join('');
    const records = parse(text, { relax_column_count: false }) as string[][];
    expect(records).toHaveLength(HOSTILE.length);
    records.forEach((r, i) => {
      expect(r).toEqual([String(i), neutraliseCell(HOSTILE[i]!), neutraliseCell(`${HOSTILE[i]}|tail`)]);
    });
  });

  test('formula-leading cells get an apostrophe (OWASP); others are unchanged', () => {
    for (const v of ['=1+2', '+1', '-1', '@SUM(1)', '\tx', '\rx']) expect(neutraliseCell(v)).toBe(`'${v}`);
    for (const v of ['plain', 'a=b', '1-2', "'quoted", '0.500000', '/abs/path.jpg']) expect(neutraliseCell(v)).toBe(v);
  });

  test('commas, quotes and line breaks are quoted; plain cells are not', () => {
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('x\ny')).toBe('"x\ny"');
    expect(csvCell('plain.jpg')).toBe('plain.jpg');
    expect(csvCell('=1+2')).toBe("'=1+2");
  });
});
