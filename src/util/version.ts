/** convfeat's own version, read from its package.json (found upward from this file, in src/ or dist/). */
import * as fs from 'fs';
import * as path from 'path';

let cached: string | undefined;

export function convfeatVersion(): string {
  if (cached !== undefined) return cached;
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'convfeat' && typeof pkg.version === 'string') return (cached = pkg.version);
    } catch {
      // no package.json at this level: keep climbing
    }
    dir = path.dirname(dir);
  }
  return (cached = 'unknown');
}
