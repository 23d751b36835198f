/**
 * One sentence, two audiences: a library door refused a bad value naming the API option a caller wrote; the CLI,
 * which installs flag names at startup, prints the sentence it always printed (byte for byte) for the same value.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { auditCache } from '../../src/audit/audit';
import { readExcludeFile } from '../../src/audit/csv';
import { parsePrecision } from '../../src/backbone/quantize/variant';
import { compactCache, exportCache, parseShard } from '../../src/cache';
import { EmbeddingStore } from '../../src/cache/store';
import { scanDataset } from '../../src/dataset';
import { extractArgs } from '../support/cli';
import { REPO_ROOT, tmpDir } from '../support/data';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');

function cli(args: string[]): { code: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120000 });
  return { code: r.status, stderr: r.stderr };
}

describe('library doors name API options; the CLI names its flags in the same sentence', () => {
  const dir = tmpDir('param-names');
  const none = path.join(dir, 'not-a-cache');
  const data = path.join(dir, 'data');
  fs.mkdirSync(path.join(data, 'train', 'cat'), { recursive: true });
  fs.writeFileSync(path.join(data, 'train', 'cat', 'a.jpg'), '');
  const missingCsv = path.join(dir, 'missing.csv');

  test('audit thresholds', async () => {
    await expect(auditCache(none, { nearThreshold: 2 })).rejects.toThrow(
      'Expected nearThreshold to be a number greater than 0 and at most 1 but received 2',
    );
    const r = cli(['audit', '--cache', none, '--near-threshold', '2']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'convfeat: Expected --near-threshold to be a number greater than 0 and at most 1 but received 2\n',
    );
  });

  test('dataset split and a missing --data', async () => {
    await expect(scanDataset(data, { split: 'dev' })).rejects.toThrow(/^Expected split to be train, val/);
    await expect(scanDataset(path.join(dir, 'nodata'))).rejects.toThrow(/^data .* does not exist/);
    const split = cli(extractArgs(data, path.join(dir, 'c'), '--split', 'dev'));
    expect(split.code).toBe(2);
    expect(split.stderr).toBe(
      'convfeat: Expected --split to be train, val (also valid, validation) or test but received "dev"\n',
    );
    const missing = cli(extractArgs(path.join(dir, 'nodata'), path.join(dir, 'c')));
    expect(missing.stderr).toBe(
      `convfeat: --data ${path.join(dir, 'nodata')} does not exist; point it at an image folder or a .csv/.jsonl manifest.\n`,
    );
  });

  test('work shards, precision, the exclude file, the cache directory', () => {
    expect(() => parseShard('4/4')).toThrow(/^Expected shard to be i\/n/);
    expect(() => parsePrecision('fp16')).toThrow(/^Expected precision to be fp32 or int8/);
    expect(() => readExcludeFile(missingCsv)).toThrow(`Cannot read excludeFile ${missingCsv};`);
    expect(() => compactCache(none)).toThrow(`${none} is not a convfeat cache; check the cacheDir path.`);
    expect(() => EmbeddingStore.open('')).toThrow(/^Expected cacheDir to be a directory path/);
    expect(() => exportCache('', { out: dir })).toThrow(/^Expected cacheDir to be a non-empty string/);

    const shard = cli(extractArgs(data, path.join(dir, 'c'), '--shard', '4/4'));
    expect(shard.stderr).toBe(
      'convfeat: Expected --shard to be i/n with integers 0 ≤ i < n ≤ 1000000 (0-based, like JOB_COMPLETION_INDEX) but received "4/4"\n',
    );
    const exclude = cli(['fit-linear', '--cache', none, '--out', path.join(dir, 'clf.json'), '--exclude', missingCsv]);
    expect(exclude.code).toBe(2);
    expect(exclude.stderr).toBe(
      `convfeat: Cannot read --exclude ${missingCsv}; give the issues.csv written by convfeat audit --report.\n`,
    );
    const compact = cli(['cache', 'compact', '--cache', none]);
    expect(compact.code).toBe(1);
    expect(compact.stderr).toBe(`convfeat: ${none} is not a convfeat cache; check the --cache path.\n`);
  });
});
