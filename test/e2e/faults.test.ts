/**
 * Ordinary faults as users meet them through the CLI: a full disk never replaces a good file with a short one and
 * never says "wrote"; read-only places, files where folders go, folders where files go, /proc, a lock that is a
 * folder are one sentence each (never "this is a bug"); leftovers of killed runs are removed by the next run; the
 * report folder gets the umask; --quiet prints nothing on success; extract's header and summary count the same
 * images; an interrupted fit-linear does not promise a resume.
 *
 * Full and read-only disks are small tmpfs mounts made here (root only; skipped with a printed reason otherwise).
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { photos, REPO_ROOT, tmpDir } from '../support/data';
import { canMount, fillLeaving, mountTmpfs, type Mounted } from '../support/tmpfs';
import { writeTinyBackbone } from '../support/tinyBackbone';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');

function run(args: string[], timeout = 120000): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A failure the user can act on: exit 1, one `convfeat:` line on stderr matching `sentence`, nothing on stdout. */
function expectOneSentence(r: ReturnType<typeof run>, sentence: RegExp): void {
  expect(r.stderr).not.toMatch(/unexpected error|this is a bug|\n\s+at /);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('convfeat:'));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(sentence);
  expect(r.stdout).not.toMatch(/wrote/);
  expect(r.code).toBe(1);
}

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

const CLASSES = ['airplane', 'car', 'fruit'];
const work = tmpDir('faults');
const model = writeTinyBackbone(work);
const data = path.join(work, 'data');
for (const cls of CLASSES) {
  fs.mkdirSync(path.join(data, cls), { recursive: true });
  for (const p of photos('train', cls, 8)) fs.copyFileSync(p, path.join(data, cls, path.basename(p)));
}
const cache = path.join(work, 'cache');
const clf = path.join(work, 'clf.json');

beforeAll(() => {
  const e = run(['extract', '--model', model, '--data', data, '--cache', cache, '--quiet']);
  expect(e.code).toBe(0);
  const f = run(['fit-linear', '--cache', cache, '--out', clf, '--C', '1', '--quiet']);
  expect(f.code).toBe(0);
});

describe('a full disk', () => {
  // Mounted in beforeAll, not at collection: a run that filters these tests out (-t) must not leave a mount.
  let m: Mounted = { skip: 'not mounted' };
  beforeAll(() => {
    m = mountTmpfs(1024);
  });
  afterAll(() => {
    if ('unmount' in m) m.unmount();
  });

  test('fit-linear, export, cache export, predict, evaluate --report and extract keep the old file and say why', () => {
    if (!canMount(m, 'full-disk CLI test')) return;
    const dir = m.dir;
    const oldClf = path.join(dir, 'clf.json');
    const oldOnnx = path.join(dir, 'model.onnx');
    const oldPreds = path.join(dir, 'preds.csv');
    const oldX = path.join(dir, 'npy', 'X.npy');
    const report = path.join(dir, 'report');
    expect(run(['fit-linear', '--cache', cache, '--out', oldClf, '--C', '1', '--quiet']).code).toBe(0);
    expect(run(['export', '--classifier', clf, '--model', model, '--out', oldOnnx, '--quiet']).code).toBe(0);
    expect(
      run(['predict', '--classifier', clf, '--model', model, '--data', data, '--out', oldPreds, '--quiet']).code,
    ).toBe(0);
    expect(run(['cache', 'export', '--cache', cache, '--out', path.join(dir, 'npy')]).code).toBe(0);
    expect(run(['evaluate', '--classifier', clf, '--cache', cache, '--report', report]).code).toBe(0);
    const before = new Map(
      [oldClf, oldOnnx, oldPreds, oldX, path.join(report, 'index.html')].map((f) => [f, fs.readFileSync(f)]),
    );
    const entries = (): string[] => fs.readdirSync(dir).sort();
    const listed = entries();
    // Room for a few hundred bytes: every write below is larger, so each first write is short (the old bug) or fails.
    fillLeaving(dir, 512);
    const cases: [string, string[]][] = [
      [oldClf, ['fit-linear', '--cache', cache, '--out', oldClf, '--C', '2']],
      [oldOnnx, ['export', '--classifier', clf, '--model', model, '--out', oldOnnx]],
      [oldPreds, ['predict', '--classifier', clf, '--model', model, '--data', data, '--out', oldPreds, '--top-k', '3']],
      [oldX, ['cache', 'export', '--cache', cache, '--out', path.join(dir, 'npy')]],
      [report, ['evaluate', '--classifier', clf, '--cache', cache, '--report', report]],
    ];
    for (const [target, args] of cases) {
      const r = run(args);
      expectOneSentence(
        r,
        new RegExp(
          `^convfeat: No space left on ${dir} while writing ${target}; the previous ${path.basename(target)} is untouched\\.`,
        ),
      );
    }
    for (const [f, bytes] of before) expect(fs.readFileSync(f)).toEqual(bytes);
    expect(entries()).toEqual(listed.concat('.filler').sort()); // no temp files left behind
    // extract into a new cache on the full disk: one sentence, not "unexpected error", whether the disk fills
    // at its lock or at its first shard.
    for (const room of [512, 8192]) {
      fillLeaving(dir, room);
      fs.rmSync(path.join(dir, 'cache2'), { recursive: true, force: true });
      const r = run(['extract', '--model', model, '--data', data, '--cache', path.join(dir, 'cache2'), '--quiet']);
      expectOneSentence(r, /^convfeat: No space left on .* while writing .*; nothing was written to it\./);
    }
  });
});

describe('places that cannot be written', () => {
  test('a read-only filesystem for the cache, the export, the prediction output and the report', () => {
    const ro = mountTmpfs(64, { readOnly: true });
    if (!canMount(ro, 'read-only CLI test')) return;
    try {
      const denied = /^convfeat: Permission denied writing .* \(EROFS\); choose a location you can write to/;
      expectOneSentence(run(['extract', '--model', model, '--data', data, '--cache', path.join(ro.dir, 'c')]), denied);
      expectOneSentence(
        run(['export', '--classifier', clf, '--model', model, '--out', path.join(ro.dir, 'sub', 'm.onnx')]),
        denied,
      );
      expectOneSentence(
        run(['predict', '--classifier', clf, '--model', model, '--data', data, '--out', path.join(ro.dir, 'p.csv')]),
        denied,
      );
      expectOneSentence(run(['cache', 'export', '--cache', cache, '--out', path.join(ro.dir, 'npy')]), denied);
    } finally {
      ro.unmount();
    }
  });

  test('a file where a folder goes, a folder where a file goes, /proc, a lock that is a folder', () => {
    const file = path.join(work, 'a-file');
    fs.writeFileSync(file, 'x');
    expectOneSentence(
      run(['extract', '--model', model, '--data', data, '--cache', file]),
      /^convfeat: the cache .*a-file is a file, not a folder/,
    );
    expectOneSentence(
      run(['cache', 'export', '--cache', cache, '--out', file]),
      /^convfeat: --out .*a-file is a file, not a folder/,
    );
    const r = run([
      'preprocess',
      data + '/airplane/' + fs.readdirSync(path.join(data, 'airplane'))[0],
      '--model',
      model,
      '--out',
      work,
    ]);
    expect(r.stderr).toMatch(/^convfeat: --out .* is a folder; give a file name such as .*input\.npy\./);
    expect(r.code).toBe(2);
    expect(fs.readdirSync('/').filter((n) => n.includes('.tmp-'))).toEqual([]);
    // Node 20's recursive mkdir spins forever on /proc; this must end at once with a sentence.
    const t = Date.now();
    const p = run(['extract', '--model', model, '--data', data, '--cache', '/proc/convfeat-x'], 30000);
    expectOneSentence(p, /^convfeat: Cannot create the cache \/proc\/convfeat-x: \/proc does not accept new folders/);
    expect(Date.now() - t).toBeLessThan(30000);
    const locked = path.join(work, 'locked');
    fs.mkdirSync(path.join(locked, 'lock'), { recursive: true });
    expectOneSentence(
      run(['extract', '--model', model, '--data', data, '--cache', locked]),
      /^convfeat: .*locked\/lock is a folder, not a convfeat lock file; move or remove it/,
    );
    expect(fs.statSync(path.join(locked, 'lock')).isDirectory()).toBe(true); // a user's folder is never moved
  });
});

describe('leftovers of killed runs', () => {
  test('export, predict and evaluate --report remove dead runs’ temps, keep live ones, and the report has the umask', () => {
    const out = path.join(work, 'leftovers');
    fs.mkdirSync(out);
    const dead = deadPid();
    const deadOnes = [
      `.model.onnx.tmp-${dead}-4242-0a0b0c0d`,
      `.preds.csv.tmp-${dead}-4242-0a0b0c0e`,
      `.report.tmp-${dead}-4242-0a0b0c0f`,
    ];
    for (const n of deadOnes) {
      if (n.startsWith('.report')) {
        fs.mkdirSync(path.join(out, n));
        fs.writeFileSync(path.join(out, n, 'index.html'), 'half');
      } else fs.writeFileSync(path.join(out, n), 'half');
    }
    // A temp of a live process (this test's own, with its real start time) is another run's work in progress.
    const stat = fs.readFileSync(`/proc/${process.pid}/stat`, 'utf8');
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    const live = `.model.onnx.tmp-${process.pid}-${start}-1a2b3c4d`;
    fs.writeFileSync(path.join(out, live), 'in progress');
    // predict's temporary cache of a killed run (SIGKILL skips its exit hook), in the system temp folder
    const deadCache = path.join(os.tmpdir(), `convfeat-predict-${dead}-4242-AbC123`);
    fs.mkdirSync(path.join(deadCache, 'shards'), { recursive: true });
    expect(
      run(['export', '--classifier', clf, '--model', model, '--out', path.join(out, 'model.onnx'), '--quiet']).code,
    ).toBe(0);
    expect(
      run([
        'predict',
        '--classifier',
        clf,
        '--model',
        model,
        '--data',
        data,
        '--out',
        path.join(out, 'preds.csv'),
        '--quiet',
      ]).code,
    ).toBe(0);
    const oldUmask = process.umask(0o022);
    let r;
    try {
      r = run(['evaluate', '--classifier', clf, '--cache', cache, '--report', path.join(out, 'report')]);
    } finally {
      process.umask(oldUmask);
    }
    expect(r.code).toBe(0);
    expect(fs.readdirSync(out).sort()).toEqual([live, 'model.onnx', 'preds.csv', 'report'].sort());
    expect(fs.existsSync(deadCache)).toBe(false);
    expect(fs.statSync(path.join(out, 'report')).mode & 0o777).toBe(0o755);
  });

  test('a report a kill left aside between the two renames is put back, not lost', () => {
    const out = path.join(work, 'swap');
    fs.mkdirSync(out);
    const report = path.join(out, 'report');
    expect(run(['evaluate', '--classifier', clf, '--cache', cache, '--report', report]).code).toBe(0);
    const html = fs.readFileSync(path.join(report, 'index.html'));
    const dead = deadPid();
    fs.renameSync(report, path.join(out, `.report.tmp-${dead}-4242-deadbeef-old`));
    // The next evaluate --report puts the old report back first, even when it then fails (a classifier missing).
    const r = run(['evaluate', '--classifier', path.join(out, 'missing.json'), '--cache', cache, '--report', report]);
    expect(r.code).toBe(1);
    expect(fs.readFileSync(path.join(report, 'index.html'))).toEqual(html);
    expect(fs.readdirSync(out)).toEqual(['report']);
  });
});

describe('what the commands print', () => {
  test('--quiet prints nothing on success; extract counts unreadable entries in its header as in its summary', () => {
    const q = path.join(work, 'quiet');
    for (const args of [
      ['extract', '--model', model, '--data', data, '--cache', path.join(q, 'c'), '--quiet'],
      ['fit-linear', '--cache', path.join(q, 'c'), '--out', path.join(q, 'clf.json'), '--C', '1', '--quiet'],
      [
        'export',
        '--classifier',
        path.join(q, 'clf.json'),
        '--model',
        model,
        '--out',
        path.join(q, 'm.onnx'),
        '--quiet',
      ],
    ]) {
      const r = run(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr.replace(/^--device auto: using CPU.*\n/m, '')).toBe('');
    }
    // Two entries that are not images: a broken link and an unreadable... link loop: the summary counts them as
    // failed, so the header's total must include them.
    const odd = path.join(work, 'odd');
    fs.cpSync(data, odd, { recursive: true });
    fs.symlinkSync(path.join(odd, 'nowhere.jpg'), path.join(odd, 'car', 'broken.jpg'));
    fs.symlinkSync(path.join(odd, 'fruit', 'loop'), path.join(odd, 'fruit', 'loop'));
    const r = run(['extract', '--model', model, '--data', odd, '--cache', path.join(work, 'odd-cache')]);
    const header = /(\d+) images(?: \((\d+) unreadable\))?, provider/.exec(r.stderr);
    const summary = /^(\d+) images: .* (\d+) failed/m.exec(r.stdout);
    expect(header).not.toBeNull();
    expect(summary).not.toBeNull();
    expect(header![1]).toBe(summary![1]);
  });

  test('an interrupted fit-linear does not promise a resume', async () => {
    // C = 1e9 on separable rows: dual coordinate descent runs to its iteration limit (minutes) in worker threads,
    // so the main thread is free to take the signal. A signal that lands before the CLI has loaded (a slow, busy
    // machine) kills it silently: then try again, waiting longer.
    const out = path.join(work, 'int.json');
    let result: { code: number | null; stderr: string } | undefined;
    for (const wait of [3000, 8000, 20000]) {
      const child = spawn(
        process.execPath,
        [
          CLI,
          'fit-linear',
          '--cache',
          cache,
          '--out',
          out,
          '--solver',
          'svm',
          '--C',
          '1e9',
          '--tol',
          '1e-15',
          '--max-iter',
          '10000000',
          '--threads',
          '2',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      await new Promise((r) => setTimeout(r, wait));
      child.kill('SIGTERM');
      const code = await exited;
      if (code === null) continue; // killed before the handler was installed
      result = { code, stderr };
      break;
    }
    expect(result).toBeDefined();
    expect(result!.code).toBe(143);
    expect(result!.stderr).toContain('interrupted (SIGTERM); nothing was written and earlier outputs are untouched');
    expect(result!.stderr).not.toContain('rerun to resume');
    expect(fs.existsSync(out)).toBe(false);
  });
});
