/**
 * `convfeat gpu check` and the CUDA device path: the diagnosis on fake machines (provider ELF with known dependencies,
 * library folders on and off the loader's path, a Python env with nvidia/*\/lib folders), the CLI's JSON and exit
 * code, `--device cuda` failing with the diagnosis, and the once-only re-execution with LD_LIBRARY_PATH.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { diagnoseGpu, formatDiagnosis } from '../../src/backbone/runtime/gpu/check';
import { cudaLibraryCandidates, type LoaderView } from '../../src/backbone/runtime/gpu/libraries';
import { deviceArgument, reexecLibraryPath, REEXEC_MARK } from '../../src/backbone/runtime/gpu/reexec';
import { ortRuntime, PROVIDER_MANIFEST_FILE } from '../../src/backbone/runtime/gpu/runtime';
import { buildElf } from '../support/elf';
import { photos, REPO_ROOT, tmpDir } from '../support/data';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const PROVIDER_NEEDS = ['libcublasLt.so.13', 'libcudart.so.13', 'libcuda.so.1', 'libc.so.6'];

/** A folder of stand-in libraries: ELF headers cut short, which the loader refuses ("cannot read file data"). */
function folderWith(names: string[]): string {
  const dir = tmpDir('gpu-libs');
  for (const n of names) fs.writeFileSync(path.join(dir, n), buildElf({ needed: [], soname: n }).subarray(0, 64));
  return dir;
}

function fakeRuntime(opts: { provider?: boolean; manifestOrt?: string } = {}) {
  const binDir = tmpDir('gpu-bin');
  if (opts.provider ?? true) {
    fs.writeFileSync(path.join(binDir, 'libonnxruntime_providers_cuda.so'), buildElf({ needed: PROVIDER_NEEDS }));
    fs.writeFileSync(path.join(binDir, 'libonnxruntime_providers_shared.so'), buildElf({ needed: ['libc.so.6'] }));
  }
  if (opts.manifestOrt) {
    fs.writeFileSync(
      path.join(binDir, PROVIDER_MANIFEST_FILE),
      JSON.stringify({ package: 'p', version: '1', onnxruntime: opts.manifestOrt, cuda: 13, files: [] }),
    );
  }
  return { version: '1.29.0', packageDir: binDir, binDir };
}

const loaderWith = (dirs: string[]): LoaderView => ({ ldLibraryPath: dirs, cache: new Map(), defaultDirs: [] });
const noDriver = path.join(tmpDir('gpu-proc'), 'version');

describe('diagnoseGpu', () => {
  const system = folderWith(['libc.so.6']);
  const driver = folderWith(['libcuda.so.1']);

  test('no provider: says to install it and looks no further', () => {
    const d = diagnoseGpu({
      runtime: fakeRuntime({ provider: false }),
      loader: loaderWith([system]),
      elsewhere: [],
      nvidiaVersionFile: noDriver,
    });
    expect(d.ready).toBe(false);
    expect(d.summary).toBe(
      'the CUDA execution provider is not installed (libonnxruntime_providers_cuda.so is missing; run `npx convfeat gpu install`)',
    );
    expect(d.libraries).toEqual([]);
  });

  test('a provider recorded for another ONNX Runtime release', () => {
    const d = diagnoseGpu({
      runtime: fakeRuntime({ manifestOrt: '1.30.0' }),
      loader: loaderWith([system, driver]),
      elsewhere: [],
    });
    expect(d.summary).toContain('built for ONNX Runtime 1.30.0 but onnxruntime-node is 1.29.0');
  });

  test('no driver: named first, with the driver version file absent', () => {
    const d = diagnoseGpu({
      runtime: fakeRuntime(),
      loader: loaderWith([system]),
      elsewhere: [],
      nvidiaVersionFile: noDriver,
    });
    expect(d.driver).toEqual({ libcuda: null, version: null });
    expect(d.summary).toBe(
      "no NVIDIA driver (libcuda.so.1 is not on the loader's path and /proc/driver/nvidia/version does not exist)",
    );
    expect(formatDiagnosis(d)).toContain('libcuda.so.1 comes with the NVIDIA driver');
  });

  test('every missing library is named with how to get it; cuDNN (loaded at run time) too', () => {
    const versionFile = path.join(tmpDir('gpu-proc'), 'version');
    fs.writeFileSync(versionFile, 'NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.65.06  Sun Jul 27 2025\n');
    const d = diagnoseGpu({
      runtime: fakeRuntime(),
      loader: loaderWith([system, driver]),
      elsewhere: [],
      nvidiaVersionFile: versionFile,
    });
    expect(d.driver).toEqual({ libcuda: path.join(driver, 'libcuda.so.1'), version: '580.65.06' });
    const missing = d.libraries.filter((l) => l.status === 'missing').map((l) => [l.name, l.neededBy, l.required]);
    expect(missing).toEqual([
      ['libcublasLt.so.13', 'provider', true],
      ['libcudart.so.13', 'provider', true],
      ['libcudnn.so.9', 'runtime', true],
      ['libnvrtc.so.13', 'runtime', false],
    ]);
    expect(d.summary).toMatch(
      /^the CUDA provider needs libcublasLt\.so\.13, libcudart\.so\.13, libcudnn\.so\.9, not found on this machine \(pip install nvidia-cublas /,
    );
    const screen = formatDiagnosis(d);
    expect(screen).toContain('MISSING libcudnn.so.9 (loaded at run time): pip install nvidia-cudnn-cu13');
    expect(screen).toContain('MISSING libcudart.so.13: pip install nvidia-cuda-runtime');
    expect(screen).toMatch(/NOT READY: the CUDA provider needs/);
    expect(screen.split('\n').length).toBeLessThanOrEqual(24);
  });

  test('libraries outside the loader path: ready, and the folders to add are given', () => {
    const cuda = folderWith(['libcublasLt.so.13', 'libcudart.so.13']);
    const cudnn = folderWith(['libcudnn.so.9']);
    const d = diagnoseGpu({ runtime: fakeRuntime(), loader: loaderWith([system, driver]), elsewhere: [cuda, cudnn] });
    expect(d.ready).toBe(true);
    expect(d.libraryPath).toEqual([cuda, cudnn]);
    expect(d.libraries.find((l) => l.name === 'libcudnn.so.9')).toMatchObject({
      status: 'elsewhere',
      path: path.join(cudnn, 'libcudnn.so.9'),
    });
    expect(d.summary).toContain(`the CUDA libraries are in ${cuda}:${cudnn}, outside the loader's path`);
    expect(d.summary).toContain(`LD_LIBRARY_PATH=${cuda}:${cudnn}:$LD_LIBRARY_PATH`);
  });

  test('everything on the loader path: ready with nothing to add', () => {
    const all = folderWith(['libcublasLt.so.13', 'libcudart.so.13', 'libcudnn.so.9', 'libnvrtc.so.13']);
    const d = diagnoseGpu({ runtime: fakeRuntime(), loader: loaderWith([system, driver, all]), elsewhere: [] });
    expect(d).toMatchObject({ ready: true, libraryPath: [] });
    expect(d.summary).toMatch(/^ready/);
  });
});

describe('where CUDA libraries are looked for beyond the loader path', () => {
  test("a Python env's site-packages nvidia/*/lib folders (PyTorch's CUDA wheels) and CONVFEAT_CUDA_LIBS", () => {
    const site = path.join(tmpDir('gpu-py'), 'lib', 'python3.12', 'site-packages');
    for (const part of ['cublas', 'cudnn', 'cu13'])
      fs.mkdirSync(path.join(site, 'nvidia', part, 'lib'), { recursive: true });
    // A stand-in python3 that reports this site-packages, as `python3 -c 'import sys; …'` would.
    const bin = tmpDir('gpu-pybin');
    const python = path.join(bin, 'python3');
    fs.writeFileSync(python, `#!/bin/sh\necho /usr/lib/python312.zip\necho ${site}\n`, { mode: 0o755 });
    const own = tmpDir('gpu-own');
    const dirs = cudaLibraryCandidates({ PYTHON: python, CONVFEAT_CUDA_LIBS: own, HOME: tmpDir('gpu-home') });
    expect(dirs[0]).toBe(own);
    for (const part of ['cu13', 'cublas', 'cudnn']) expect(dirs).toContain(path.join(site, 'nvidia', part, 'lib'));
  });
});

describe('re-executing the CLI with LD_LIBRARY_PATH', () => {
  test('--device is read in both spellings; auto when absent', () => {
    expect(deviceArgument(['extract', '--device', 'cuda:1'])).toBe('cuda:1');
    expect(deviceArgument(['extract', '--device=cpu'])).toBe('cpu');
    expect(deviceArgument(['extract'])).toBe('auto');
  });

  test('never for other commands, --device cpu, --help, or a process that was already re-executed', () => {
    expect(reexecLibraryPath(['fit-linear', '--cache', 'x'])).toBeNull();
    expect(reexecLibraryPath(['extract', '--device', 'cpu'])).toBeNull();
    expect(reexecLibraryPath(['extract', '--help'])).toBeNull();
    expect(reexecLibraryPath(['extract', '--device', 'cuda'], { [REEXEC_MARK]: '1' })).toBeNull();
  });

  const providerInstalled = fs.existsSync(path.join(ortRuntime().binDir, 'libonnxruntime_providers_cuda.so'));
  (providerInstalled ? test : test.skip)(
    'with the provider installed and the CUDA libraries in a folder off the loader path, the CLI restarts once with it',
    () => {
      // Stand-ins for the driver and the CUDA libraries: the loader finds them after the restart and then refuses
      // them (they are not real libraries), so the run ends in "failed to start", which proves they were reached.
      const driver = folderWith(['libcuda.so.1']);
      const cuda = folderWith([
        'libcublasLt.so.13',
        'libcublas.so.13',
        'libcurand.so.10',
        'libcudart.so.13',
        'libcudnn.so.9',
      ]);
      const data = tmpDir('gpu-data');
      fs.copyFileSync(photos('test', 'cat', 1)[0]!, path.join(data, 'a.jpg'));
      const r = spawnSync(
        process.execPath,
        [
          CLI,
          'extract',
          '--data',
          data,
          '--cache',
          path.join(tmpDir('gpu-cache'), 'c'),
          '--model',
          path.join(REPO_ROOT, 'onnx', 'resnet50.onnx'),
          '--device',
          'cuda',
        ],
        {
          encoding: 'utf8',
          timeout: 120000,
          env: { ...process.env, LD_LIBRARY_PATH: driver, CONVFEAT_CUDA_LIBS: cuda, PYTHON: '/nonexistent' },
        },
      );
      expect(r.stderr.match(/adding the CUDA libraries' folders to LD_LIBRARY_PATH/g)).toHaveLength(1);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(
        '--device cuda cannot be used: the CUDA execution provider failed to start on device 0 (',
      );
    },
  );
});

describe('the CLI', () => {
  test('gpu check --json: the diagnosis as JSON, exit 1 when not ready (no GPU here)', () => {
    const r = spawnSync(process.execPath, [CLI, 'gpu', 'check', '--json'], { encoding: 'utf8', timeout: 60000 });
    const d = JSON.parse(r.stdout) as { ready: boolean; summary: string; onnxruntime: { version: string } };
    expect(d.onnxruntime.version).toBe('1.29.0');
    expect(r.status).toBe(d.ready ? 0 : 1);
    const human = spawnSync(process.execPath, [CLI, 'gpu', 'check'], { encoding: 'utf8', timeout: 60000 });
    expect(human.stdout).toContain(`${d.ready ? 'READY' : 'NOT READY'}: ${d.summary}`);
  });

  test('extract --device cuda fails with what gpu check says; --device auto falls back with one line saying it', () => {
    const d = JSON.parse(spawnSync(process.execPath, [CLI, 'gpu', 'check', '--json'], { encoding: 'utf8' }).stdout) as {
      ready: boolean;
      summary: string;
    };
    if (d.ready) return; // a GPU machine: nothing to diagnose
    const data = tmpDir('gpu-data');
    fs.copyFileSync(photos('test', 'cat', 1)[0]!, path.join(data, 'a.jpg'));
    const model = path.join(REPO_ROOT, 'onnx', 'resnet50.onnx');
    const args = (device: string) => [
      CLI,
      'extract',
      '--data',
      data,
      '--cache',
      path.join(tmpDir('gpu-cache'), 'c'),
      '--model',
      model,
      '--device',
      device,
    ];
    const cuda = spawnSync(process.execPath, args('cuda'), { encoding: 'utf8', timeout: 120000 });
    expect(cuda.status).toBe(1);
    expect(cuda.stderr).toContain(
      `convfeat: --device cuda cannot be used: ${d.summary}; \`npx convfeat gpu check\` shows the full diagnosis, or pass --device cpu.`,
    );
    const auto = spawnSync(process.execPath, args('auto'), { encoding: 'utf8', timeout: 120000 });
    expect(auto.status).toBe(0);
    expect(auto.stderr.split('\n').filter((l) => l.startsWith('--device auto:'))).toEqual([
      `--device auto: using CPU because ${d.summary}.`,
    ]);
  });
});
