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

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(require('os').tmpdir(), `convfeat-${prefix}-`));
}
