import * as fs from 'fs';
import * as path from 'path';
import { scanDataset } from '../../src/dataset';
import { parseCsv } from '../../src/dataset/csv';
import { UsageError } from '../../src/util/errors';
import { tmpDir } from '../support/data';

function write(file: string, text: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

async function usageMessage(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(UsageError);
  return (e as UsageError).message;
}

describe('parseCsv', () => {
  test('quoted commas, doubled quotes, line breaks inside quotes, CRLF, BOM and blank lines', () => {
    const text = '\ufeffpath,label\r\n"a, b.jpg","say ""hi"""\r\n\r\n"multi\nline.jpg",x\nplain.jpg,\n';
    expect(parseCsv(text)).toEqual([
      { line: 1, fields: ['path', 'label'] },
      { line: 2, fields: ['a, b.jpg', 'say "hi"'] },
      { line: 4, fields: ['multi\nline.jpg', 'x'] },
      { line: 6, fields: ['plain.jpg', ''] },
    ]);
  });

  test('an unterminated quote names the line it opened on', () => {
    expect(() => parseCsv('path,label\n"open.jpg,cat\nmore\n')).toThrow(/never closed/);
  });
});

describe('scanDataset: manifests', () => {
  test('CSV: header, quoted fields with commas, paths relative to the manifest, split aliases, manifest order kept', async () => {
    const dir = tmpDir('csv');
    const file = write(
      path.join(dir, 'lists', 'train.csv'),
      'path,label,split\n' +
        '"../images/b, with comma.jpg","cat, tabby",train\n' +
        'sub/a.jpg,dog,validation\n' +
        `${path.join(dir, 'abs.jpg')},dog,\n` +
        'sub/a.jpg,dog,train\n',
    );
    const ds = await scanDataset(file);
    expect(ds.kind).toBe('manifest');
    expect(ds.root).toBe(path.join(dir, 'lists'));
    expect(ds.classes).toEqual(['cat, tabby', 'dog']);
    expect(ds.items).toEqual([
      {
        path: path.join(dir, 'images', 'b, with comma.jpg'),
        relPath: '../images/b, with comma.jpg',
        label: 'cat, tabby',
        split: 'train',
      },
      { path: path.join(dir, 'lists', 'sub', 'a.jpg'), relPath: 'sub/a.jpg', label: 'dog', split: 'val' },
      { path: path.join(dir, 'abs.jpg'), relPath: '../abs.jpg', label: 'dog' },
    ]);
    // A row listed twice is a note, not a failure: it must not fail --strict (issue 13 item 12).
    expect(ds.problems).toEqual([]);
    expect(ds.notes).toEqual([
      {
        path: path.join(dir, 'lists', 'sub', 'a.jpg'),
        reason: 'listed again on line 5 of train.csv; the first row is kept',
      },
    ]);
    const val = await scanDataset(file, { split: 'valid' });
    expect(val.items.map((i) => i.relPath)).toEqual(['sub/a.jpg']);
  });

  test('URL rows and NUL bytes are one true reason each, with the row as written; extra fields are refused', async () => {
    const dir = tmpDir('csv-reasons');
    const file = write(
      path.join(dir, 'm.csv'),
      'path,label\nhttps://example.com/cat.jpg,cat\nHTTP://host/dog.jpg,dog\n"bad\u0000name.jpg",cat\nok.jpg,dog\n',
    );
    const ds = await scanDataset(file);
    expect(ds.items.map((i) => i.relPath)).toEqual(['ok.jpg']);
    expect(ds.problems).toEqual([
      {
        path: 'https://example.com/cat.jpg',
        reason: 'URLs are not supported in manifests; download the image and list its local path (line 2)',
      },
      {
        path: 'HTTP://host/dog.jpg',
        reason: 'URLs are not supported in manifests; download the image and list its local path (line 3)',
      },
      { path: 'bad\u0000name.jpg', reason: 'the path contains a NUL byte, which no file name can hold (line 4)' },
    ]);
    const jsonl = write(path.join(dir, 'm.jsonl'), '{"path": "s3://bucket/x.jpg", "label": "x"}\n');
    expect(await usageMessage(scanDataset(jsonl))).toMatch(/lists no usable image: URLs are not supported/);
    const wide = write(path.join(dir, 'wide.csv'), 'path,label\na.jpg,cat\nb,c.jpg,dog\n');
    expect(await usageMessage(scanDataset(wide))).toMatch(
      /Line 3 of .*wide\.csv has 3 fields but the header "path,label" has 2; quote a path/,
    );
  });

  test('CSV without a label column is an unlabelled manifest', async () => {
    const dir = tmpDir('csv-nolabel');
    const ds = await scanDataset(write(path.join(dir, 'm.csv'), 'Path\nx.jpg\ny.jpg\n'));
    expect(ds.kind).toBe('manifest');
    expect(ds.classes).toEqual([]);
    expect(ds.items.map((i) => [i.relPath, i.label])).toEqual([
      ['x.jpg', undefined],
      ['y.jpg', undefined],
    ]);
  });

  test('CSV errors: no path column, a row missing its label, an empty label, an unknown split, no rows', async () => {
    const dir = tmpDir('csv-bad');
    expect(await usageMessage(scanDataset(write(path.join(dir, 'a.csv'), 'file,label\nx.jpg,cat\n')))).toMatch(
      /Expected the header of .*a\.csv to name a path column \(path,label\[,split\]\) but received "file,label"/,
    );
    expect(await usageMessage(scanDataset(write(path.join(dir, 'b.csv'), 'path,label\nx.jpg,cat\ny.jpg\n')))).toMatch(
      /Line 3 of .*b\.csv has no label column/,
    );
    expect(await usageMessage(scanDataset(write(path.join(dir, 'c.csv'), 'path,label\nx.jpg, \n')))).toMatch(
      /Line 2 of .*c\.csv has no label/,
    );
    expect(
      await usageMessage(scanDataset(write(path.join(dir, 'd.csv'), 'path,label,split\nx.jpg,cat,dev\n'))),
    ).toMatch(/Line 2 of .*d\.csv has split "dev"; expected train, val \(also valid, validation\) or test/);
    expect(await usageMessage(scanDataset(write(path.join(dir, 'e.csv'), 'path,label\n')))).toMatch(/lists no images/);
    expect(await usageMessage(scanDataset(write(path.join(dir, 'f.csv'), 'path,label\n,cat\n')))).toMatch(
      /Line 2 of .*f\.csv has no path/,
    );
  });

  test('JSONL: labels, splits, blank lines, numeric labels; bad lines are usage errors with their line number', async () => {
    const dir = tmpDir('jsonl');
    const file = write(
      path.join(dir, 'm.jsonl'),
      '{"path": "cats/été 1.jpg", "label": "cat", "split": "train"}\n\n{"path": "7.jpg", "label": 7, "split": "test"}\n',
    );
    const ds = await scanDataset(file);
    expect(ds.items).toEqual([
      { path: path.join(dir, 'cats', 'été 1.jpg'), relPath: 'cats/été 1.jpg', label: 'cat', split: 'train' },
      { path: path.join(dir, '7.jpg'), relPath: '7.jpg', label: '7', split: 'test' },
    ]);
    expect(ds.classes).toEqual(['7', 'cat']);
    expect(
      await usageMessage(scanDataset(write(path.join(dir, 'bad.jsonl'), '{"path": "a.jpg", "label": "x"}\n{oops\n'))),
    ).toMatch(/Line 2 of .*bad\.jsonl is not valid JSON/);
    expect(
      await usageMessage(
        scanDataset(write(path.join(dir, 'nolabel.jsonl'), '{"path": "a.jpg", "label": "x"}\n{"path": "b.jpg"}\n')),
      ),
    ).toMatch(/Line 2 of .*nolabel\.jsonl has no label/);
    // The reverse: an unlabelled first row used to make every later label vanish silently.
    expect(
      await usageMessage(
        scanDataset(write(path.join(dir, 'late.jsonl'), '{"path": "a.jpg"}\n{"path": "b.jpg", "label": "x"}\n')),
      ),
    ).toMatch(/Line 2 of .*late\.jsonl has a label but the first row has none; label every row .* or none/);
    expect(
      await usageMessage(
        scanDataset(write(path.join(dir, 'split.ndjson'), '{"path": "a.jpg", "label": "x", "split": "holdout"}\n')),
      ),
    ).toMatch(/has split "holdout"/);
    expect(await usageMessage(scanDataset(file, { layout: 'imagefolder' }))).toMatch(
      /layout option applies to folders/,
    );
  });
});
