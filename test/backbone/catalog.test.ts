/** modelCatalog: the known models with their place in a store folder and whether they are fetched (`models list`). */
import * as fs from 'fs';
import * as path from 'path';
import { loadManifest, modelCatalog, storeDirFromEnv } from '../../src/backbone/store';
import { tmpDir } from '../support/data';

describe('modelCatalog', () => {
  const manifest = loadManifest();
  const names = Object.keys(manifest.models).sort();

  test('every known model by name, its file in the store folder, fetched only once the file is there', () => {
    const store = tmpDir('catalog');
    const before = modelCatalog(store);
    expect(before.map((m) => m.name)).toEqual(names);
    for (const m of before) {
      const entry = manifest.models[m.name]!;
      expect(m).toMatchObject({
        dim: entry.embedding.dim,
        format: entry.format,
        file: path.join(store, entry.file),
        fetched: false,
        source: entry.source.url,
        sha256: entry.source.sha256,
      });
    }
    const first = before[0]!;
    fs.writeFileSync(first.file, 'x');
    const after = modelCatalog(store);
    expect(after.filter((m) => m.fetched).map((m) => m.name)).toEqual([first.name]);
  });

  test('the default store folder is CONVFEAT_MODEL_DIR when set', () => {
    const saved = process.env.CONVFEAT_MODEL_DIR;
    const store = tmpDir('catalog-env');
    try {
      process.env.CONVFEAT_MODEL_DIR = store;
      expect(storeDirFromEnv()).toBe(store);
      expect(modelCatalog()[0]!.file.startsWith(store + path.sep)).toBe(true);
    } finally {
      if (saved === undefined) delete process.env.CONVFEAT_MODEL_DIR;
      else process.env.CONVFEAT_MODEL_DIR = saved;
    }
  });
});
