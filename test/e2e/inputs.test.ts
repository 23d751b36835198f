/**
 * Hostile inputs through the CLI (issue 13 items 2, 11, 12): huge non-image files cost no memory, names that are not
 * UTF-8 are extracted, a newline in a name cannot forge a log line, and each odd input gets its true reason once.
 */
import { tinyBmp } from '../support/bmp';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readListing } from '../../src/cache';
import { photos, REPO_ROOT, tmpDir } from '../support/data';
import { writeTinyBackbone } from '../support/tinyBackbone';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const MB = 1024 * 1024;

const work = tmpDir('inputs');
fs.chmodSync(work, 0o755); // readable by `nobody` for the permission test
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
const model = writeTinyBackbone(work);

/** Peak RSS of a child node process, reported by a preloaded exit hook (KiB, as resourceUsage gives it). */
const rssHook = path.join(work, 'rss-hook.js');
fs.writeFileSync(
  rssHook,
  "process.on('exit', () => require('fs').writeFileSync(process.env.RSS_OUT, String(process.resourceUsage().maxRSS)));\n",
);

function run(
  args: string[],
  env: Record<string, string> = {},
): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['-r', rssHook, CLI, ...args], {
    encoding: 'utf8',
    timeout: 180000,
    env: { ...process.env, RSS_OUT: path.join(work, 'rss-unused'), ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function classFolder(root: string, cls: string, source: string, n: number): void {
  const dir = path.join(root, cls);
  fs.mkdirSync(dir, { recursive: true });
  for (const p of photos('train', source, n)) fs.copyFileSync(p, path.join(dir, path.basename(p)));
}

/** A sparse file of `size` bytes whose first bytes are `head`: huge on paper, no disk or memory used. */
function sparse(file: string, size: number, head: Buffer): void {
  const fd = fs.openSync(file, 'w');
  fs.ftruncateSync(fd, size);
  fs.writeSync(fd, head, 0, head.length, 0);
  fs.closeSync(fd);
}

function peakRss(args: string[]): { rss: number; result: ReturnType<typeof run> } {
  const out = path.join(work, `rss-${Math.random().toString(36).slice(2)}`);
  const result = run(args, { RSS_OUT: out });
  return { rss: Number(fs.readFileSync(out, 'utf8')) * 1024, result };
}

describe('inputs', () => {
  test('huge non-image files are refused from their first bytes: peak RSS stays that of the photos alone', () => {
    const plain = path.join(work, 'plain');
    classFolder(plain, 'airplane', 'airplane', 4);
    classFolder(plain, 'car', 'car', 4);
    const hostile = path.join(work, 'hostile');
    classFolder(hostile, 'airplane', 'airplane', 4);
    classFolder(hostile, 'car', 'car', 4);
    const mp4 = Buffer.concat([
      Buffer.from([0, 0, 0, 0x20]),
      Buffer.from('ftypisom\0\0\x02\0isomiso2avc1mp41', 'latin1'),
    ]);
    for (let i = 0; i < 4; i++) sparse(path.join(hostile, 'car', `video${i}.mp4`), 700 * MB, mp4);
    sparse(path.join(hostile, 'airplane', 'zeros.jpg'), 700 * MB, Buffer.alloc(16));
    // A JPEG header on a file over the size limit: refused from its size, before it is read.
    sparse(path.join(hostile, 'airplane', 'giant.jpg'), 300 * MB, Buffer.from([0xff, 0xd8, 0xff, 0xe0]));

    const base = ['extract', '--model', model, '--workers', '1', '--json'];
    const peer = peakRss([...base, '--data', plain, '--cache', path.join(work, 'c-plain')]);
    expect(peer.result.code).toBe(0);
    const big = peakRss([...base, '--data', hostile, '--cache', path.join(work, 'c-hostile')]);
    expect(big.result.code).toBe(0);
    const summary = JSON.parse(big.result.stdout) as { extracted: number; failed: number };
    expect(summary.extracted).toBe(8);
    expect(summary.failed).toBe(6);
    const reasons = Object.fromEntries(
      (JSON.parse(big.result.stdout).failures as Array<{ path: string; reason: string }>).map((f) => [
        path.basename(f.path),
        f.reason,
      ]),
    );
    expect(reasons['video0.mp4']).toBe('not an image or unsupported format');
    expect(reasons['zeros.jpg']).toBe('not an image or unsupported format');
    expect(reasons['giant.jpg']).toBe('file is 300.0 MB, over the 256.0 MB limit per image (--max-file-size)');
    // 2.8 GB of videos beside the photos: the peak is the photos' own, within 64 MiB (noise of two runs).
    expect(big.rss - peer.rss).toBeLessThan(64 * MB);

    const limited = run([...base, '--data', hostile, '--cache', path.join(work, 'c-limit'), '--max-file-size', '0']);
    expect(limited.code).toBe(2);
    expect(limited.stderr).toMatch(/--max-file-size/);
  });

  test('names that are not UTF-8 are extracted and listed; a newline in a name cannot forge a log line', () => {
    const data = path.join(work, 'bytes');
    classFolder(data, 'airplane', 'airplane', 3);
    classFolder(data, 'car', 'car', 3);
    const photo = photos('train', 'fruit', 4)[3]; // not one of the three below: no duplicate
    // "café.jpg" in Latin-1 (0xE9 alone is not UTF-8), and a class folder whose name is Latin-1 too.
    const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');
    const sep = Buffer.from(path.sep);
    fs.writeFileSync(
      Buffer.concat([latin1(path.join(data, 'car')), sep, latin1('caf\xe9.jpg')]),
      fs.readFileSync(photo!),
    );
    const cls = Buffer.concat([latin1(data), sep, latin1('fr\xfbit')]);
    fs.mkdirSync(cls);
    for (const [i, p] of photos('train', 'fruit', 3).entries())
      fs.copyFileSync(p, Buffer.concat([cls, sep, latin1(`\xff${i}.jpg`)]));
    const forged = 'x.jpg\nskipped forged.jpg: forged';
    fs.writeFileSync(path.join(data, 'car', forged), 'not an image');

    const cache = path.join(work, 'c-bytes');
    const r = run(['extract', '--model', model, '--data', data, '--cache', cache]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/11 images: 10 extracted, 0 from cache, 0 duplicates, 1 failed/);
    const skipped = r.stderr.split('\n').filter((l) => l.startsWith('skipped'));
    expect(skipped).toEqual([
      `skipped ${path.join(data, 'car', 'x.jpg\\nskipped forged.jpg: forged')}: not an image or unsupported format`,
    ]);
    const listing = readListing(cache)!;
    const cafe = listing.find((e) => e.relPath === 'car/caf\\xe9.jpg');
    expect(cafe).toBeDefined();
    expect(Buffer.from(cafe!.pathBytes!, 'base64')).toEqual(
      Buffer.concat([latin1(path.join(data, 'car')), sep, latin1('caf\xe9.jpg')]),
    );
    const fruit = listing.filter((e) => e.label === 'fr\\xfbit');
    expect(fruit.map((e) => e.relPath).sort()).toEqual([
      'fr\\xfbit/\\xff0.jpg',
      'fr\\xfbit/\\xff1.jpg',
      'fr\\xfbit/\\xff2.jpg',
    ]);
  });

  test('a BMP says BMP is not supported; a duplicate manifest row is a note that does not fail --strict', () => {
    const data = path.join(work, 'reasons');
    classFolder(data, 'airplane', 'airplane', 3);
    classFolder(data, 'car', 'car', 3);
    const bmp = tinyBmp();
    fs.writeFileSync(path.join(data, 'car', 'tiny.bmp'), bmp);
    const cache = path.join(work, 'c-reasons');
    const r = run(['extract', '--model', model, '--data', data, '--cache', cache]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      `skipped ${path.join(data, 'car', 'tiny.bmp')}: BMP is not supported (sharp cannot decode it); convert it to PNG`,
    );

    const rows = [
      'path,label',
      ...photos('train', 'cat', 2).map((p) => `${p},cat`),
      ...photos('train', 'dog', 2).map((p) => `${p},dog`),
    ];
    rows.push(rows[1]!);
    const manifest = path.join(work, 'm.csv');
    fs.writeFileSync(manifest, `${rows.join('\n')}\n`);
    const m = run(['extract', '--model', model, '--data', manifest, '--cache', path.join(work, 'c-m'), '--strict']);
    expect(m.code).toBe(0);
    expect(m.stderr).toMatch(/note: .*: listed again on line 6 of m\.csv; the first row is kept/);
    expect(m.stdout).toMatch(/4 images: 4 extracted, 0 from cache, 0 duplicates, 0 failed/);
  });

  test('an unreadable class folder is one line and one failure', () => {
    const data = path.join(work, 'perm');
    classFolder(data, 'airplane', 'airplane', 3);
    classFolder(data, 'car', 'car', 3);
    classFolder(data, 'locked', 'cat', 1);
    fs.chmodSync(path.join(data, 'locked'), 0o000);
    const cache = path.join(work, 'c-perm');
    fs.mkdirSync(cache, { mode: 0o777 });
    fs.chmodSync(cache, 0o777);
    // As root every folder is readable: run the CLI as `nobody` then (uid/gid 65534).
    const asNobody = os.userInfo().uid === 0;
    const r = spawnSync(process.execPath, [CLI, 'extract', '--model', model, '--data', data, '--cache', cache], {
      encoding: 'utf8',
      timeout: 120000,
      ...(asNobody ? { uid: 65534, gid: 65534 } : {}),
    });
    fs.chmodSync(path.join(data, 'locked'), 0o755);
    expect(r.status).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l.includes('locked'));
    expect(lines).toEqual([`skipped ${path.join(data, 'locked')}: permission denied reading this directory`]);
    expect(r.stdout).toMatch(/7 images: 6 extracted, 0 from cache, 0 duplicates, 1 failed/);
  });
});
