import * as fs from 'fs';
import * as path from 'path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Mini Natural Images: CONVFEAT_DATA overrides; the default is the shared copy beside the checkout. */
export const MINI_NATURAL_IMAGES = process.env.CONVFEAT_DATA
  ? path.resolve(process.env.CONVFEAT_DATA)
  : path.resolve(REPO_ROOT, '..', 'shared', 'data', 'mini_natural_images');

export function photos(split: string, cls: string, count: number): string[] {
  const dir = path.join(MINI_NATURAL_IMAGES, split, cls);
  return fs
    .readdirSync(dir)
    .filter((f) => /\.jpe?g$/i.test(f))
    .sort()
    .slice(0, count)
    .map((f) => path.join(dir, f));
}

/**
 * A fresh folder under the system temp folder. The test environment (environment.js) removes every folder made here
 * when the test file ends, pass or fail, so no test leaves its files behind; CONVFEAT_KEEP_TMP=1 keeps them for
 * debugging.
 */
export function tmpDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(require('os').tmpdir(), `convfeat-${prefix}-`));
  const registry = globalThis as { __convfeatTmpDirs?: string[] };
  (registry.__convfeatTmpDirs ??= []).push(dir);
  return dir;
}
