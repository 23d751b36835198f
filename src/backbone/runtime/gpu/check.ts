/**
 * `convfeat gpu check`: a diagnosis of the CUDA path, not a guess. It reads the installed provider's ELF dependencies
 * and looks each one up the way the loader will (plus cuDNN, which the provider dlopens at run time), reports the
 * NVIDIA driver, and finds libraries that exist on the machine but outside the loader's path — which the CLI then
 * adds to LD_LIBRARY_PATH by re-executing itself (reexec.ts).
 */
import * as fs from 'fs';
import * as path from 'path';
import { describeError } from '../../../util/errors';
import { readElfDynamic } from './elf';
import { cudaLibraryCandidates, findIn, findOnLoaderPath, loaderView, type LoaderView } from './libraries';
import {
  CUDA_PROVIDER_FILE,
  SHARED_PROVIDER_FILE,
  ortRuntime,
  readProviderManifest,
  type OrtRuntime,
  type ProviderManifest,
} from './runtime';

export interface LibraryStatus {
  name: string;
  /** provider: a DT_NEEDED entry of the CUDA provider; runtime: dlopened by it when a session starts. */
  neededBy: 'provider' | 'runtime';
  required: boolean;
  /** loader: the loader finds it now; elsewhere: on this machine but outside the loader's path; missing: not found. */
  status: 'loader' | 'elsewhere' | 'missing';
  path: string | null;
  /** How to get it (for elsewhere/missing). */
  hint?: string;
}

export interface GpuDiagnosis {
  platform: string;
  onnxruntime: { version: string; binDir: string };
  provider: {
    installed: boolean;
    file: string;
    manifest: ProviderManifest | null;
    cuda: number | null;
    problem?: string;
  };
  driver: { libcuda: string | null; version: string | null };
  libraries: LibraryStatus[];
  searched: { ldLibraryPath: string[]; ldconfigEntries: number; defaultDirs: string[]; elsewhere: string[] };
  /** Folders to prepend to LD_LIBRARY_PATH so that every library found elsewhere is on the loader's path. */
  libraryPath: string[];
  /** Provider, driver and every required library are present (perhaps only after adding libraryPath). */
  ready: boolean;
  summary: string;
}

export interface DiagnoseOptions {
  env?: NodeJS.ProcessEnv;
  runtime?: OrtRuntime;
  /** For tests: the loader's view and the folders searched beyond it. */
  loader?: LoaderView;
  elsewhere?: string[];
  nvidiaVersionFile?: string;
}

/** Libraries of the C runtime every Linux has; never worth a hint. */
const SYSTEM = /^(libc|libm|libdl|librt|libpthread|libgcc_s|libstdc\+\+|ld-linux[\w-]*)\.so/;

/** The pip wheel (PyTorch's CUDA wheels) or NVIDIA download that provides `name`. */
export function libraryHint(name: string, cuda: number | null): string {
  const cu = cuda ?? 13;
  const wheel = (base: string): string => (cu >= 13 ? base : `${base}-cu${cu}`);
  const pip = (pkg: string, what: string): string =>
    `pip install ${pkg} (or ${what} from developer.nvidia.com), then rerun; convfeat finds Python's nvidia/*/lib folders`;
  if (name === 'libcuda.so.1')
    return `comes with the NVIDIA driver, not with CUDA: install the driver (${cu >= 13 ? '580' : '525'} or newer for CUDA ${cu}) and check nvidia-smi`;
  if (/^libcublas(Lt)?\.so/.test(name)) return pip(wheel('nvidia-cublas'), `the CUDA ${cu} toolkit`);
  if (/^libcudart\.so/.test(name)) return pip(wheel('nvidia-cuda-runtime'), `the CUDA ${cu} toolkit`);
  if (/^libcurand\.so/.test(name)) return pip(wheel('nvidia-curand'), `the CUDA ${cu} toolkit`);
  if (/^libcufft\.so/.test(name)) return pip(wheel('nvidia-cufft'), `the CUDA ${cu} toolkit`);
  if (/^libnvrtc\.so/.test(name)) return pip(wheel('nvidia-cuda-nvrtc'), `the CUDA ${cu} toolkit`);
  if (/^libcudnn/.test(name)) return pip(`nvidia-cudnn-cu${cu}`, `cuDNN 9 for CUDA ${cu}`);
  if (SYSTEM.test(name)) return "part of the C/C++ runtime: install the distribution's libc6 / libstdc++6";
  return 'install the package that provides it';
}

function readDriverVersion(file: string): string | null {
  try {
    const text = fs.readFileSync(file, 'utf8');
    const m = /Kernel Module\s+(?:for\s+\S+\s+)?([\d.]+)/.exec(text);
    return m ? m[1]! : (text.split('\n')[0]?.trim() ?? null);
  } catch {
    return null;
  }
}

export function diagnoseGpu(opts: DiagnoseOptions = {}): GpuDiagnosis {
  const env = opts.env ?? process.env;
  const runtime = opts.runtime ?? ortRuntime();
  const loader = opts.loader ?? loaderView(env);
  let elsewhereDirs: string[] | null = opts.elsewhere ?? null;
  const elsewhere = (): string[] => (elsewhereDirs ??= cudaLibraryCandidates(env));

  const file = path.join(runtime.binDir, CUDA_PROVIDER_FILE);
  let manifest = readProviderManifest(runtime.binDir);
  // A provider replaced since (onnxruntime-node's own NuGet install writes the same names) is no longer the one recorded.
  const recorded = manifest?.files.find((f) => f.name === CUDA_PROVIDER_FILE);
  if (recorded && (!fs.existsSync(file) || fs.statSync(file).size !== recorded.bytes)) manifest = null;
  const provider: GpuDiagnosis['provider'] = { installed: false, file, manifest, cuda: manifest?.cuda ?? null };
  let needed: string[] = [];
  if (process.platform !== 'linux' && opts.runtime === undefined) {
    provider.problem = `convfeat gpu check reads Linux libraries; this is ${process.platform}/${process.arch}`;
  } else if (!fs.existsSync(file) || !fs.existsSync(path.join(runtime.binDir, SHARED_PROVIDER_FILE))) {
    provider.problem = `the CUDA execution provider is not installed (${CUDA_PROVIDER_FILE} is missing; run \`npx convfeat gpu install\`)`;
  } else if (manifest && manifest.onnxruntime !== runtime.version) {
    provider.problem = `the installed CUDA provider is built for ONNX Runtime ${manifest.onnxruntime} but onnxruntime-node is ${runtime.version} (run \`npx convfeat gpu install\` again)`;
  } else {
    try {
      needed = readElfDynamic(file).needed;
      provider.installed = true;
      const cudart = needed.map((n) => /^libcudart\.so\.(\d+)$/.exec(n)).find((m) => m);
      if (cudart) provider.cuda = Number(cudart[1]);
    } catch (e) {
      provider.problem = `${file} cannot be read (${describeError(e)}); run \`npx convfeat gpu install\` again`;
    }
  }

  const libraries: LibraryStatus[] = [];
  const lookup = (name: string, neededBy: LibraryStatus['neededBy'], required: boolean): void => {
    const onPath = findOnLoaderPath(name, loader);
    if (onPath) return void libraries.push({ name, neededBy, required, status: 'loader', path: onPath });
    const other = name === 'libcuda.so.1' ? null : findIn(name, elsewhere());
    libraries.push({
      name,
      neededBy,
      required,
      status: other ? 'elsewhere' : 'missing',
      path: other,
      hint: other ? `found in ${path.dirname(other)}, outside the loader's path` : libraryHint(name, provider.cuda),
    });
  };
  if (provider.installed) {
    for (const name of needed) lookup(name, 'provider', true);
    // dlopened when the first session starts, so not in DT_NEEDED: cuDNN (every convolution) and NVRTC (cuDNN's
    // runtime-compiled engines; without it cuDNN skips them).
    lookup('libcudnn.so.9', 'runtime', true);
    lookup(`libnvrtc.so.${provider.cuda ?? 13}`, 'runtime', false);
  }
  const libcuda = libraries.find((l) => l.name === 'libcuda.so.1')?.path ?? findOnLoaderPath('libcuda.so.1', loader);
  const driver = {
    libcuda,
    version: readDriverVersion(opts.nvidiaVersionFile ?? '/proc/driver/nvidia/version'),
  };

  const libraryPath = [
    ...new Set(libraries.filter((l) => l.status === 'elsewhere' && l.path).map((l) => path.dirname(l.path!))),
  ];
  const missing = libraries.filter((l) => l.status === 'missing' && l.required && l.name !== 'libcuda.so.1');
  let summary: string;
  if (provider.problem) summary = provider.problem;
  else if (!driver.libcuda)
    summary = `no NVIDIA driver (libcuda.so.1 is not on the loader's path${driver.version ? '' : ' and /proc/driver/nvidia/version does not exist'})`;
  else if (missing.length > 0)
    summary = `the CUDA provider needs ${missing.map((l) => l.name).join(', ')}, not found on this machine (${missing[0]!.hint})`;
  else if (libraryPath.length > 0)
    summary = `the CUDA libraries are in ${libraryPath.join(':')}, outside the loader's path (the CLI adds them itself; elsewhere run with LD_LIBRARY_PATH=${libraryPath.join(':')}${loader.ldLibraryPath.length ? ':$LD_LIBRARY_PATH' : ''})`;
  else summary = 'ready: the CUDA provider, the NVIDIA driver and every library it needs are found';
  const ready = !provider.problem && driver.libcuda !== null && missing.length === 0;
  return {
    platform: `${process.platform}/${process.arch}`,
    onnxruntime: { version: runtime.version, binDir: runtime.binDir },
    provider,
    driver,
    libraries,
    searched: {
      ldLibraryPath: loader.ldLibraryPath,
      ldconfigEntries: loader.cache.size,
      defaultDirs: loader.defaultDirs,
      elsewhere: elsewhereDirs ?? [],
    },
    libraryPath,
    ready,
    summary,
  };
}

/** The one screen `convfeat gpu check` prints. */
export function formatDiagnosis(d: GpuDiagnosis): string {
  const lines: string[] = [];
  const mark = (ok: boolean): string => (ok ? 'ok     ' : 'MISSING');
  lines.push(`onnxruntime-node ${d.onnxruntime.version} (${d.onnxruntime.binDir})`);
  const m = d.provider.manifest;
  lines.push(
    `${mark(d.provider.installed)} CUDA provider${d.provider.installed ? `: ${path.basename(d.provider.file)}${m ? ` from ${m.package}@${m.version} (ONNX Runtime ${m.onnxruntime}, CUDA ${m.cuda ?? '?'})` : ''}` : `: ${d.provider.problem ?? ''}`}`,
  );
  lines.push(
    `${mark(d.driver.libcuda !== null)} NVIDIA driver: ${d.driver.libcuda ?? 'libcuda.so.1 not found'}; ${d.driver.version ? `kernel module ${d.driver.version}` : 'no /proc/driver/nvidia/version'}` +
      (d.driver.libcuda ? '' : ` — libcuda.so.1 ${libraryHint('libcuda.so.1', d.provider.cuda)}`),
  );
  for (const l of d.libraries) {
    // The driver line covers libcuda; the C runtime is only worth a line when it is missing.
    if (l.name === 'libcuda.so.1' || (l.status === 'loader' && SYSTEM.test(l.name))) continue;
    const tag =
      l.status === 'loader' ? 'ok     ' : l.status === 'elsewhere' ? 'FOUND  ' : l.required ? 'MISSING' : 'absent ';
    const why = l.neededBy === 'runtime' ? ' (loaded at run time)' : '';
    lines.push(`${tag} ${l.name}${why}: ${l.path ?? ''}${l.hint ? `${l.path ? ' — ' : ''}${l.hint}` : ''}`);
  }
  const s = d.searched;
  if (d.libraries.length > 0) {
    lines.push(
      `looked in: LD_LIBRARY_PATH (${s.ldLibraryPath.length ? s.ldLibraryPath.join(':') : 'unset'}), the ldconfig cache (${s.ldconfigEntries} entries), ${s.defaultDirs.join(' ')}` +
        (s.elsewhere.length ? `; beyond the loader's path: ${s.elsewhere.join(' ')}` : ''),
    );
  }
  lines.push(`${d.ready ? 'READY' : 'NOT READY'}: ${d.summary}`);
  return lines.join('\n');
}
