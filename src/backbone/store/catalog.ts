/**
 * The known models as a user sees them: the manifest's entries with where each lives in a store folder and whether it
 * is there yet. `convfeat models list` prints it; a program can ask the same before fetching.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { PreprocessSpec } from '../../preprocess/spec';
import { defaultStoreDir, listModels, loadManifest, type Manifest, type ModelEntry } from './manifest';

export interface ModelStatus {
  name: string;
  /** Embedding dimension at the default cut. */
  dim: number;
  format: ModelEntry['format'];
  /** Where the converted ONNX file is, or will be once fetched. */
  file: string;
  fetched: boolean;
  /** Where fetchModel downloads it from, and the sha256 it must have. */
  source: string;
  sha256: string;
  license: string;
  description: string;
  preprocess: PreprocessSpec;
}

/** The store folder used when none is named: CONVFEAT_MODEL_DIR, else onnx/ in the package (as backbone/load). */
export function storeDirFromEnv(): string {
  return process.env.CONVFEAT_MODEL_DIR ?? defaultStoreDir();
}

/** Every known model, by name, with its file in `storeDir` and whether that file exists. */
export function modelCatalog(storeDir: string = storeDirFromEnv(), manifest: Manifest = loadManifest()): ModelStatus[] {
  return listModels(manifest).map((m) => {
    const file = path.join(storeDir, m.file);
    return {
      name: m.name,
      dim: m.embedding.dim,
      format: m.format,
      file,
      fetched: fs.existsSync(file),
      source: m.source.url,
      sha256: m.source.sha256,
      license: m.license,
      description: m.description,
      preprocess: m.preprocess,
    };
  });
}
