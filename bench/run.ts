/**
 * Runs the benchmark commands documented in bench/README.md (and the suites' own READMEs) one after another, each
 * in its own child process, printing its output as it comes. `npm run bench` builds dist/ and bench/out/js first.
 *
 *   node bench/out/js/bench/run.js [--only SUITE[/STEP],...] [--smoke]
 *
 * --only   suites or single steps, e.g. `--only extract,solvers/real`
 * --smoke  the same scripts on a few photos / rows, to check that they run (seconds each), not to measure
 *
 * A step whose peer is missing (GNU time, Python with torchvision, the demo cache) is skipped with the reason; the
 * scripts skip LIBLINEAR themselves. Exit status 1 if any step failed, 2 for a usage error.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { cliExtractArgs, DATA_ROOT, linkFolder, REPO_ROOT, tempDir } from './extract/common';

interface Command {
  argv: string[];
  env?: Record<string, string>;
  /** Printed under the command line. */
  note?: string;
}
type Plan = Command | { skip: string };

interface Context {
  smoke: boolean;
  /** A temporary folder for this run (smoke inputs), removed at the end. */
  tmp(): string;
  /** A Python that has torchvision, Pillow and NumPy, or undefined. */
  python(): string | undefined;
  /** A Python that also has onnx (for the fine-tuning baseline, which reads the converted model), and the model file. */
  torch(): string | undefined;
}

interface Step {
  name: string;
  plan(ctx: Context): Plan;
}

interface Suite {
  name: string;
  steps: Step[];
}

const OUT = path.join(REPO_ROOT, 'bench', 'out');
const GNU_TIME = process.env.CONVFEAT_GNU_TIME ?? '/usr/bin/time';
const DEMO_CACHE = path.join('data', 'demo', 'cache-resnet50');
const RESULT = (file: string) => path.join('bench', 'results', file);
const TORCH_MISSING =
  'no Python with torch, torchvision and onnx (Debian: python3-torch python3-torchvision python3-onnx; or set CONVFEAT_PYTHON)';

/** Smoke summaries go to a results folder of their own, never over the committed ones. */
function smokeResult(ctx: Context, file: string): string {
  const dir = path.join(ctx.tmp(), 'results');
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, file);
}

/** A compiled bench script, e.g. script('extract/throughput', ['200']). */
function script(rel: string, args: string[]): Command {
  return { argv: [process.execPath, path.join(OUT, 'js', 'bench', `${rel}.js`), ...args] };
}

function python(ctx: Context, rel: string, args: string[]): Plan {
  const py = ctx.python();
  if (!py)
    return {
      skip: 'no Python with torchvision, Pillow and NumPy (set CONVFEAT_PYTHON, or see bench/preprocess/README.md)',
    };
  return { argv: [py, path.join(REPO_ROOT, 'bench', rel), ...args] };
}

/** An ImageFolder of symbolic links to the given photos (paths relative to the data root), kept at the same paths. */
function dataSubset(root: string, rels: readonly string[]): string {
  return linkFolder(
    root,
    rels.map((rel) => [rel, path.join(DATA_ROOT, rel)] as const),
  );
}

/** The first `perSplit[split]` photos of the first `classes` classes of each split. */
function firstPhotos(classes: number, perSplit: Record<string, number>): string[] {
  const out: string[] = [];
  for (const [split, count] of Object.entries(perSplit)) {
    for (const cls of fs.readdirSync(path.join(DATA_ROOT, split)).sort().slice(0, classes)) {
      const files = fs.readdirSync(path.join(DATA_ROOT, split, cls)).filter((f) => /\.jpe?g$/i.test(f));
      out.push(
        ...files
          .sort()
          .slice(0, count)
          .map((f) => path.join(split, cls, f)),
      );
    }
  }
  return out;
}

interface FixtureListing {
  photos: Array<{ path: string; cropSha256: string }>;
}

const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'preprocess', 'fixtures.json');
const fixtureListing = (): FixtureListing => JSON.parse(fs.readFileSync(FIXTURES, 'utf8')) as FixtureListing;

/** Smoke: the 7 parity fixture photos, at their relative paths, so both digest sources apply to one root. */
function fixtureRoot(ctx: Context): string {
  return dataSubset(
    path.join(ctx.tmp(), 'fixture-photos'),
    fixtureListing().photos.map((p) => p.path),
  );
}

const SUITES: Suite[] = [
  {
    name: 'extract',
    steps: [
      {
        name: 'throughput',
        plan: (c) => script('extract/throughput', c.smoke ? ['8', '1', 't2w1b4'] : ['200', '3', 't2w1b8,t1w1b8']),
      },
      {
        name: 'overhead',
        plan: (c) =>
          script('extract/overhead', c.smoke ? ['8', '1', 'w1b4'] : ['200', '3', 'w0b8,w1b8,w2b8,w1b32,w1b1']),
      },
      {
        name: 'cli',
        plan: (c) => {
          if (c.smoke) return script('extract/cli', ['--smoke']); // times the CLI itself when GNU time is missing
          if (!fs.existsSync(GNU_TIME))
            return { skip: `GNU time not found at ${GNU_TIME} (Debian: apt-get install time)` };
          return script('extract/cli', ['3']);
        },
      },
    ],
  },
  {
    name: 'solvers',
    steps: [
      {
        name: 'solvers',
        plan: (c) =>
          script(
            'solvers/solvers',
            c.smoke
              ? ['--n', '300', '--dim', '32', '--classes', '3', '--test', '300', '--repeats', '1']
              : ['--n', '100000', '--repeats', '3'],
          ),
      },
      { name: 'mini', plan: (c) => script('solvers/mini', ['--repeats', c.smoke ? '1' : '7']) },
      { name: 'agree', plan: () => script('solvers/agree', []) },
      {
        // Smoke: embeddings of 27 photos (3 classes; 5 train, 2 val, 2 test each) with the real ResNet50.
        name: 'tiny-cache',
        plan: (c) => {
          if (!c.smoke) return { skip: 'smoke only (the full run uses the demo cache)' };
          const data = dataSubset(path.join(c.tmp(), 'tiny-data'), firstPhotos(3, { train: 5, val: 2, test: 2 }));
          return { argv: [process.execPath, ...cliExtractArgs(data, path.join(c.tmp(), 'tiny-cache'), [])] };
        },
      },
      {
        name: 'real',
        plan: (c) => {
          if (c.smoke) return script('solvers/real', ['--cache', path.join(c.tmp(), 'tiny-cache'), '--repeats', '1']);
          if (!fs.existsSync(path.join(REPO_ROOT, DEMO_CACHE)))
            return { skip: `${DEMO_CACHE} is missing: run \`npm run demo\` first` };
          return script('solvers/real', ['--repeats', '5']);
        },
      },
    ],
  },
  {
    name: 'preprocess',
    steps: [
      {
        name: 'tv-hashes',
        plan: (c) =>
          c.smoke
            ? python(c, 'preprocess/torchvision_hashes.py', [fixtureRoot(c), path.join(c.tmp(), 'tv-hashes.json')])
            : python(c, 'preprocess/torchvision_hashes.py', [DATA_ROOT, path.join(OUT, 'tv-hashes.json')]),
      },
      {
        name: 'parity-all',
        plan: (c) => {
          if (!c.smoke) {
            const digests = path.join(OUT, 'tv-hashes.json');
            if (!fs.existsSync(digests))
              return { skip: `${path.relative(REPO_ROOT, digests)} is missing (tv-hashes did not run)` };
            return script('preprocess/parity-all', [digests]);
          }
          // Smoke: torchvision's digests from the step above, or else the committed fixtures' (same 7 photos).
          let digests = path.join(c.tmp(), 'tv-hashes.json');
          let note = "(torchvision's digests from the tv-hashes step)";
          if (!fs.existsSync(digests)) {
            digests = path.join(c.tmp(), 'fixture-digests.json');
            const map = Object.fromEntries(fixtureListing().photos.map((p) => [p.path, p.cropSha256]));
            fs.writeFileSync(digests, JSON.stringify(map));
            note = `(torchvision's digests from ${path.relative(REPO_ROOT, FIXTURES)})`;
          }
          return { ...script('preprocess/parity-all', [digests]), env: { CONVFEAT_DATA: fixtureRoot(c) }, note };
        },
      },
      { name: 'sharp-vs-pil', plan: (c) => script('preprocess/sharp-vs-pil', [c.smoke ? '8' : '200']) },
      { name: 'throughput', plan: (c) => script('preprocess/throughput', [c.smoke ? '16' : '200']) },
    ],
  },
  {
    name: 'peers',
    steps: [
      {
        // Full: throughput on 200 photos, then the linear probe on every photo (the demo cache when it exists).
        name: 'extract',
        plan: (c) => {
          if (c.smoke)
            return script('peers/extract', [
              '--n',
              '8',
              '--repeats',
              '1',
              '--batch',
              '4',
              '--json',
              smokeResult(c, 'peers-extract.json'),
            ]);
          const cache = fs.existsSync(path.join(REPO_ROOT, DEMO_CACHE)) ? ['--cache', DEMO_CACHE] : [];
          return script('peers/extract', [
            '--n',
            '200',
            '--repeats',
            '5',
            '--probe',
            ...cache,
            '--json',
            RESULT('peers-extract.json'),
          ]);
        },
      },
    ],
  },
  {
    name: 'compare',
    steps: [
      {
        name: 'convfeat',
        plan: (c) =>
          c.smoke
            ? script('compare/convfeat', ['--limit-per-class', '2', '--json', smokeResult(c, 'convfeat-mini.json')])
            : script('compare/convfeat', ['--json', RESULT('convfeat-mini.json')]),
      },
      {
        // What the fine-tuning recipe costs per image on this machine's CPU (synthetic batches; no data set pass).
        name: 'finetune-cpu',
        plan: (c) => {
          const py = c.torch();
          if (!py) return { skip: TORCH_MISSING };
          const args = c.smoke
            ? ['--steps', '1', '--variants', 'head', '--json', smokeResult(c, 'finetune-cpu-timing.json')]
            : ['--steps', '3', '--json', RESULT('finetune-cpu-timing.json')];
          return {
            argv: [
              py,
              path.join(REPO_ROOT, 'bench', 'finetune', 'timing.py'),
              '--device',
              'cpu',
              '--threads',
              '2',
              ...args,
            ],
          };
        },
      },
      {
        // Smoke: one tiny epoch of the real recipe. Full: all three variants, 25 epochs, only on a CUDA GPU.
        name: 'finetune',
        plan: (c) => {
          const py = c.torch();
          if (!py) return { skip: TORCH_MISSING };
          if (c.smoke) {
            const args = ['--variant', 'head', '--limit-per-class', '1', '--epochs', '1', '--device', 'cpu'];
            return { argv: [py, path.join(REPO_ROOT, 'bench', 'finetune', 'finetune.py'), ...args] };
          }
          if (spawnSync(py, ['-c', 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)']).status !== 0)
            return {
              skip: 'no CUDA GPU: the full recipe takes about an hour (head) to several hours (full) on a 2-core CPU; see bench/finetune/README.md',
            };
          const out = path.join(REPO_ROOT, 'bench', 'results', 'finetune-gpu');
          return {
            argv: [
              'bash',
              path.join(REPO_ROOT, 'bench', 'finetune', 'gpu.sh'),
              DATA_ROOT,
              path.join(REPO_ROOT, 'onnx', 'resnet50.onnx'),
              out,
            ],
            env: { PYTHON: py },
          };
        },
      },
      {
        // The recipe's cheapest variant on this CPU for real, capped at 20 minutes (the budget), then tested.
        name: 'finetune-cpu-head',
        plan: (c) => {
          if (c.smoke) return { skip: 'full runs only (compare/finetune runs the same script on a tiny input)' };
          const py = c.torch();
          if (!py) return { skip: TORCH_MISSING };
          const out = RESULT(path.join('finetune-cpu', 'finetune-head.json'));
          const args = ['--variant', 'head', '--epochs', '25', '--max-minutes', '20', '--threads', '2', '--json', out];
          // The log (per-epoch lines) is kept beside the summary, as gpu.sh does.
          const log = out.replace(/\.json$/, '.txt');
          const script = path.join(REPO_ROOT, 'bench', 'finetune', 'finetune.py');
          return {
            argv: [
              'bash',
              '-o',
              'pipefail',
              '-c',
              'PYTHONUNBUFFERED=1 "$@" 2>&1 | tee "$LOG"',
              'bash',
              py,
              script,
              ...args,
            ],
            env: { LOG: log },
          };
        },
      },
      {
        // Renders the tables from the summaries; the full run rewrites bench/README.md's compare block.
        name: 'table',
        plan: (c) =>
          c.smoke
            ? script('compare/table', ['--results', smokeResult(c, '')])
            : script('compare/table', ['--write', path.join('bench', 'README.md')]),
      },
    ],
  },
];

/**
 * A Python that has torchvision, Pillow and NumPy (and `extra` modules): CONVFEAT_PYTHON when set (only it), else
 * python3 or /usr/bin/python3.
 */
export function findPython(extra: readonly string[] = []): string | undefined {
  const modules = ['torchvision', 'PIL', 'numpy', ...extra].map((m) => JSON.stringify(m)).join(', ');
  const check = `import importlib.util as u, sys; sys.exit(0 if all(u.find_spec(m) for m in (${modules},)) else 1)`;
  const candidates = process.env.CONVFEAT_PYTHON ? [process.env.CONVFEAT_PYTHON] : ['python3', '/usr/bin/python3'];
  // From the temp folder: the checkout's own onnx/ folder would pass for the onnx package.
  return candidates.find((py) => spawnSync(py, ['-c', check], { stdio: 'ignore', cwd: os.tmpdir() }).status === 0);
}

/** findPython with onnx too, when the converted model exists (the fine-tuning scripts read their weights from it). */
export function findTorchPython(): string | undefined {
  if (!fs.existsSync(path.join(REPO_ROOT, 'onnx', 'resnet50.onnx'))) return undefined;
  return findPython(['onnx']);
}

function usage(message: string): never {
  console.error(`bench/run: ${message}`);
  console.error('usage: node bench/out/js/bench/run.js [--only SUITE[/STEP],...] [--smoke]');
  process.exit(2);
}

function parseArgs(argv: string[]): { smoke: boolean; only?: string[] } {
  let smoke = false;
  let only: string[] | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--smoke') smoke = true;
    else if (a === '--only' || a.startsWith('--only=')) {
      const value = a === '--only' ? argv[++i] : a.slice('--only='.length);
      if (!value) usage('--only needs a list, e.g. --only extract,solvers/real');
      only = value.split(',').filter(Boolean);
    } else usage(`unknown argument ${JSON.stringify(a)}`);
  }
  const known = SUITES.flatMap((s) => [s.name, ...s.steps.map((st) => `${s.name}/${st.name}`)]);
  for (const name of only ?? [])
    if (!known.includes(name)) usage(`unknown suite or step ${JSON.stringify(name)}; known: ${known.join(', ')}`);
  return { smoke, only };
}

function shown(argv: string[]): string {
  return argv
    .map((a, i) =>
      i === 0 && a === process.execPath ? 'node' : a.startsWith(REPO_ROOT + path.sep) ? path.relative(REPO_ROOT, a) : a,
    )
    .join(' ');
}

function main(): void {
  const { smoke, only } = parseArgs(process.argv.slice(2));
  let tmp: string | undefined;
  let py: string | undefined | null = null;
  let torchPy: string | undefined | null = null;
  const ctx: Context = {
    smoke,
    tmp: () => (tmp ??= tempDir('convfeat-bench-run-')),
    python: () => (py === null ? (py = findPython()) : py),
    torch: () => (torchPy === null ? (torchPy = findTorchPython()) : torchPy),
  };
  const results: string[] = [];
  let failed = 0;
  try {
    for (const suite of SUITES) {
      for (const step of suite.steps) {
        const name = `${suite.name}/${step.name}`;
        if (only && !only.includes(suite.name) && !only.includes(name)) continue;
        let plan: Plan;
        try {
          plan = step.plan(ctx);
        } catch (e) {
          failed++;
          console.log(`\n== ${name}: failed before it started: ${e instanceof Error ? e.message : String(e)}`);
          results.push(`${name.padEnd(24)} failed before it started`);
          continue;
        }
        if ('skip' in plan) {
          console.log(`\n== ${name}: skipped: ${plan.skip}`);
          results.push(`${name.padEnd(24)} skipped: ${plan.skip}`);
          continue;
        }
        const env = plan.env
          ? Object.entries(plan.env)
              .map(([k, v]) => `${k}=${v} `)
              .join('')
          : '';
        console.log(`\n== ${name}: ${env}${shown(plan.argv)}`);
        if (plan.note) console.log(plan.note);
        const t0 = process.hrtime.bigint();
        const r = spawnSync(plan.argv[0]!, plan.argv.slice(1), {
          cwd: REPO_ROOT,
          stdio: 'inherit',
          env: { ...process.env, ...plan.env },
        });
        const seconds = (Number(process.hrtime.bigint() - t0) / 1e9).toFixed(1);
        const status = r.error
          ? `failed to start: ${r.error.message}`
          : r.status === 0
            ? 'ok'
            : `failed (exit ${r.status ?? r.signal})`;
        if (status !== 'ok') failed++;
        console.log(`-- ${name}: ${status}, ${seconds} s`);
        results.push(`${name.padEnd(24)} ${status}, ${seconds} s`);
      }
    }
  } finally {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
  console.log(`\n== summary${smoke ? ' (smoke)' : ''}\n${results.join('\n')}`);
  if (failed > 0) process.exitCode = 1;
}

if (require.main === module) main();
