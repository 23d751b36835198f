/**
 * Generated models that tests keep between runs (the converted ResNet50, its cut graphs, the unpacked TF.js model)
 * are keyed on a hash of the code that generates them. The model store's own keys (the converter version number,
 * the source file's size and times) do not change when a developer edits the converter or the cutter, so without
 * this a checkout would keep testing models made by the old code while a clean clone tests the new.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from './data';

/**
 * The source files `entries` import, directly or through other relative imports (`from './x'`, `require('../x')`),
 * entries included, as paths relative to root. Following the imports means a file added to the converter is covered
 * without anyone updating a list.
 */
export function importClosure(entries: readonly string[], root = REPO_ROOT): string[] {
  const seen = new Set<string>();
  const visit = (rel: string): void => {
    if (seen.has(rel)) return;
    seen.add(rel);
    const text = fs.readFileSync(path.join(root, rel), 'utf8');
    for (const m of text.matchAll(/(?:from\s+|require\(\s*|import\(\s*)'(\.{1,2}\/[^']+)'/g)) {
      const target = path.posix.join(path.posix.dirname(rel), m[1]);
      const candidates = [`${target}.ts`, `${target}/index.ts`, target];
      const found = candidates.find(
        (c) => fs.existsSync(path.join(root, c)) && fs.statSync(path.join(root, c)).isFile(),
      );
      if (!found) throw new Error(`${rel} imports ${m[1]}, which is not a file under ${root}`);
      visit(found);
    }
  };
  for (const entry of entries) visit(entry);
  return [...seen].sort();
}

/** What writes onnx/resnet50.onnx: the fetch step and everything it imports (unpacking, converter, protobuf). */
export function converterSources(root = REPO_ROOT): string[] {
  return [...importClosure(['src/backbone/store/fetch.ts'], root), 'onnx/models.json'];
}

/** What writes onnx/cut/: the cutter and what it imports, and load.ts, which keys and records the cuts. */
export function cutterSources(root = REPO_ROOT): string[] {
  return [...importClosure(['src/backbone/graph/cut.ts'], root), 'src/backbone/load.ts'];
}

function filesUnder(abs: string): string[] {
  const stat = fs.statSync(abs);
  if (!stat.isDirectory()) return [abs];
  return fs
    .readdirSync(abs)
    .sort()
    .flatMap((name) => filesUnder(path.join(abs, name)));
}

/** sha256 over the relative path and content of every file in `sources` (files or folders, relative to root). */
export function sourceHash(sources: readonly string[], root = REPO_ROOT): string {
  const hash = createHash('sha256');
  for (const source of sources) {
    for (const file of filesUnder(path.join(root, source))) {
      hash.update(path.relative(root, file).split(path.sep).join('/'));
      hash.update('\0');
      hash.update(fs.readFileSync(file));
      hash.update('\0');
    }
  }
  return hash.digest('hex');
}

/**
 * Whether the generated thing recorded in `stampFile` was made by code with hash `hash`. A missing or unreadable
 * stamp counts as stale: the generated thing predates this check, and its code is unknown.
 */
export function isFresh(stampFile: string, hash: string): boolean {
  try {
    return fs.readFileSync(stampFile, 'utf8').trim() === hash;
  } catch {
    return false;
  }
}

export function writeStamp(stampFile: string, hash: string): void {
  fs.mkdirSync(path.dirname(stampFile), { recursive: true });
  const temp = `${stampFile}.tmp-${process.pid}`;
  fs.writeFileSync(temp, `${hash}\n`);
  fs.renameSync(temp, stampFile);
}

/**
 * Removes the cached cut graphs in `cutDir` when the cutter's code changed since they were made, then records the
 * current hash. Returns true when it removed them.
 */
export function dropStaleCuts(cutDir: string, hash: string): boolean {
  const stamp = path.join(cutDir, '.code-sha256');
  if (isFresh(stamp, hash)) return false;
  const stale = fs.existsSync(cutDir) && fs.readdirSync(cutDir).some((n) => n !== '.code-sha256');
  fs.rmSync(cutDir, { recursive: true, force: true });
  writeStamp(stamp, hash);
  return stale;
}
