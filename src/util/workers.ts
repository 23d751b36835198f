/**
 * Worker threads need compiled JavaScript. When convfeat runs from dist/ the worker script sits beside its caller;
 * when the caller runs from TypeScript sources (ts-jest, ts-node) we use the compiled copy under dist/ if the
 * project has been built (`npm run build`, done by `npm ci` through `prepare`). Returns undefined when no compiled
 * worker exists, so callers can fall back to running in-process.
 */
import * as fs from 'fs';
import * as path from 'path';

/** @param callerDir the caller's __dirname; @param relFromSrc worker path relative to src/, without extension. */
export function resolveWorkerScript(callerDir: string, relFromSrc: string): string | undefined {
  const base = path.basename(relFromSrc);
  const beside = path.join(callerDir, `${base}.js`);
  if (fs.existsSync(beside)) return beside;
  // callerDir is <root>/src/<stage>: find <root>/dist/<relFromSrc>.js
  let dir = callerDir;
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'dist', `${relFromSrc}.js`);
    if (fs.existsSync(path.join(dir, 'package.json'))) return fs.existsSync(candidate) ? candidate : undefined;
    dir = path.dirname(dir);
  }
  return undefined;
}
