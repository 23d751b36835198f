/**
 * Where onnxruntime-node keeps its native libraries and which GPU provider fits it. The core (`libonnxruntime.so.1`)
 * loads `libonnxruntime_providers_shared.so` and `libonnxruntime_providers_cuda.so` from its own folder when a session
 * asks for CUDA, so that folder is where a provider is installed; a provider loads only into the ONNX Runtime release
 * it was built for.
 */
import * as fs from 'fs';
import * as path from 'path';

/** ONNX Runtime 1.29.0's official Linux x64 CUDA 13 + cuDNN 9 provider, republished on the npm registry (MIT). */
export const NPM_CUDA_PROVIDER = {
  package: 'com.github.asus4.onnxruntime.linux-x64-gpu',
  version: '0.4.9',
  onnxruntime: '1.29.0',
  integrity: 'sha512-FopIhNE/Ng+v2X65wVc9clPCBCvhvA53Hxo2U0Kf5fGdVsC7iCA+mZ0KLWggcQAj7TIZ6pNidR4AC10g74Xo6w==',
  bytes: 179_145_956,
  /** Folder of the provider libraries inside the tarball. */
  libDir: 'package/Plugins/Linux/x64',
} as const;

export const CUDA_PROVIDER_FILE = 'libonnxruntime_providers_cuda.so';
export const SHARED_PROVIDER_FILE = 'libonnxruntime_providers_shared.so';
export const TENSORRT_PROVIDER_FILE = 'libonnxruntime_providers_tensorrt.so';
/** What `convfeat gpu install` records beside the libraries it placed. */
export const PROVIDER_MANIFEST_FILE = 'convfeat-gpu-provider.json';

export interface OrtRuntime {
  /** onnxruntime-node's version, which is its ONNX Runtime core's release. */
  version: string;
  packageDir: string;
  /** The folder holding libonnxruntime.so.1 and the binding. */
  binDir: string;
}

export interface ProviderManifest {
  package: string;
  version: string;
  onnxruntime: string;
  /** CUDA major version the provider links against (from its libcudart.so.N dependency). */
  cuda: number | null;
  source: string;
  integrity: string;
  installedAt: string;
  files: Array<{ name: string; bytes: number; sha256: string }>;
}

export function ortRuntime(): OrtRuntime {
  const packageJson = require.resolve('onnxruntime-node/package.json');
  const packageDir = path.dirname(packageJson);
  const version = (JSON.parse(fs.readFileSync(packageJson, 'utf8')) as { version: string }).version;
  return { version, packageDir, binDir: path.join(packageDir, 'bin', 'napi-v6', process.platform, process.arch) };
}

/** The manifest `convfeat gpu install` wrote in `binDir`, or null when it did not install there (or it is damaged). */
export function readProviderManifest(binDir: string): ProviderManifest | null {
  try {
    const value = JSON.parse(fs.readFileSync(path.join(binDir, PROVIDER_MANIFEST_FILE), 'utf8')) as ProviderManifest;
    return typeof value.onnxruntime === 'string' && Array.isArray(value.files) ? value : null;
  } catch {
    return null;
  }
}
