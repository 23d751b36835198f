/**
 * Where the dynamic loader finds a shared library, and where a machine keeps CUDA libraries the loader does not see.
 *
 * The loader (glibc ld.so) resolves a DT_NEEDED name through LD_LIBRARY_PATH, then the ldconfig cache
 * (/etc/ld.so.cache, listed by `ldconfig -p`), then the default folders; it reads LD_LIBRARY_PATH once, at process
 * start. CUDA libraries often sit elsewhere: the toolkit's /usr/local/cuda*\/lib64, and the `nvidia/<part>/lib`
 * folders of a Python environment with PyTorch's CUDA wheels (nvidia-cublas, nvidia-cudnn-cu13, …).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const DEFAULT_LOADER_DIRS = [
  '/lib/x86_64-linux-gnu',
  '/usr/lib/x86_64-linux-gnu',
  '/lib64',
  '/usr/lib64',
  '/lib',
  '/usr/lib',
];

export interface LoaderView {
  ldLibraryPath: string[];
  /** name → path from the ldconfig cache (64-bit x86 entries only). */
  cache: Map<string, string>;
  defaultDirs: string[];
}

function parseLdconfig(text: string): Map<string, string> {
  const cache = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(\S.*)$/.exec(line);
    if (!m || (process.arch === 'x64' && !m[2]!.includes('x86-64'))) continue;
    if (!cache.has(m[1]!)) cache.set(m[1]!, m[3]!.trim());
  }
  return cache;
}

export function loaderView(env: NodeJS.ProcessEnv = process.env): LoaderView {
  let cache = new Map<string, string>();
  for (const ldconfig of ['/sbin/ldconfig', '/usr/sbin/ldconfig', 'ldconfig']) {
    const r = spawnSync(ldconfig, ['-p'], { encoding: 'utf8', timeout: 5000 });
    if (r.status === 0 && r.stdout) {
      cache = parseLdconfig(r.stdout);
      break;
    }
  }
  return {
    ldLibraryPath: (env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    cache,
    defaultDirs: DEFAULT_LOADER_DIRS,
  };
}

/** Where the loader would find `name`, or null. */
export function findOnLoaderPath(name: string, view: LoaderView): string | null {
  for (const dir of view.ldLibraryPath) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) return file;
  }
  const cached = view.cache.get(name);
  if (cached && fs.existsSync(cached)) return cached;
  for (const dir of view.defaultDirs) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) return file;
  }
  return null;
}

function listDirs(parent: string, match: (name: string) => boolean): string[] {
  try {
    return fs
      .readdirSync(parent, { withFileTypes: true })
      .filter((d) => (d.isDirectory() || d.isSymbolicLink()) && match(d.name))
      .map((d) => path.join(parent, d.name))
      .sort();
  } catch {
    return [];
  }
}

/** Python package folders: those of `python3` on PATH (or $PYTHON), and the usual prefixes of venvs and conda. */
export function pythonSitePackages(env: NodeJS.ProcessEnv = process.env): string[] {
  const found = new Set<string>();
  const python = env.PYTHON || 'python3';
  const r = spawnSync(python, ['-c', 'import sys, site; print("\\n".join(sys.path + site.getsitepackages()))'], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (r.status === 0 && r.stdout) {
    for (const p of r.stdout.split('\n')) if (/(site|dist)-packages\/?$/.test(p.trim())) found.add(p.trim());
  }
  const prefixes = [
    env.VIRTUAL_ENV,
    env.CONDA_PREFIX,
    '/usr',
    '/usr/local',
    '/opt/conda',
    path.join(os.homedir(), '.local'),
  ];
  for (const prefix of prefixes) {
    if (!prefix) continue;
    for (const lib of listDirs(path.join(prefix, 'lib'), (n) => /^python3(\.\d+)?$/.test(n))) {
      for (const sp of ['site-packages', 'dist-packages']) {
        const dir = path.join(lib, sp);
        if (fs.existsSync(dir)) found.add(dir);
      }
    }
  }
  return [...found];
}

/**
 * Folders outside the loader's path that hold CUDA libraries: $CONVFEAT_CUDA_LIBS (colon-separated) first, then
 * $CUDA_HOME / $CUDA_PATH, /usr/local/cuda*, and `nvidia/<part>/lib` under Python's site-packages.
 */
export function cudaLibraryCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  const dirs: string[] = [];
  const add = (d: string): void => {
    if (!dirs.includes(d) && fs.existsSync(d)) dirs.push(d);
  };
  for (const d of (env.CONVFEAT_CUDA_LIBS ?? '').split(':').filter(Boolean)) add(d);
  for (const home of [env.CUDA_HOME, env.CUDA_PATH, ...listDirs('/usr/local', (n) => /^cuda(-[\d.]+)?$/.test(n))]) {
    if (!home) continue;
    add(path.join(home, 'lib64'));
    add(path.join(home, 'targets', 'x86_64-linux', 'lib'));
  }
  for (const site of pythonSitePackages(env)) {
    for (const part of listDirs(path.join(site, 'nvidia'), () => true)) add(path.join(part, 'lib'));
  }
  return dirs;
}

/** Where `name` is in `dirs`, or null. */
export function findIn(name: string, dirs: readonly string[]): string | null {
  for (const dir of dirs) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) return file;
  }
  return null;
}
