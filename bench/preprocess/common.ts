/** Shared helpers for the preprocessing benchmarks: where the photos are and how to list them. */
import * as fs from 'fs';
import * as path from 'path';

/** The checkout root (the folder with package.json), from source or from the compiled copy under bench/out. */
function findRepoRoot(dir: string): string {
  for (let d = dir; d !== path.dirname(d); d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'package.json'))) return d;
  }
  return dir;
}

export const DATA_ROOT = process.env.CONVFEAT_DATA
  ? path.resolve(process.env.CONVFEAT_DATA)
  : path.resolve(findRepoRoot(__dirname), '..', 'shared', 'data', 'mini_natural_images');

/** Every JPEG under the data root, as paths relative to it, sorted. */
export function allPhotos(root = DATA_ROOT): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/\.jpe?g$/i.test(entry.name)) out.push(path.relative(root, full));
    }
  };
  walk(root);
  return out;
}

/** n photos spread evenly over the sorted list (every class and split represented). */
export function samplePhotos(n: number, root = DATA_ROOT): string[] {
  const all = allPhotos(root);
  const step = all.length / n;
  return Array.from({ length: Math.min(n, all.length) }, (_, i) => all[Math.floor(i * step)]);
}
