/**
 * The on-disk cut cache: cutting ResNet50 means decoding, pruning and re-encoding 100 MB, so the cut graph of a large
 * model is kept in <store>/cut/ beside a small JSON record (fingerprint, embedding size, layer, tensor). The key is the
 * source file's identity (path, size, mtime, ctime, inode) and the requested layer, so a changed file always misses;
 * the cut of its old version is removed when the new one is written. Small models are cut on every run instead.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomicSync } from '../../util/atomic';
import { canonicalJson, sha256Hex } from '../../util/hash';
import { cutAtEmbedding } from './cut';
import { modelFingerprint } from './fingerprint';
import { encodeModel, loadModel } from './proto';

/** Models smaller than this are cut on every run (milliseconds) instead of being kept in <store>/cut/. */
const CUT_CACHE_MIN_BYTES = 8 * 1024 * 1024;

export interface CutRecord {
  fingerprint: string;
  dim: number | null;
  layer: string;
  tensor: string;
  /** The source file and requested layer, so an outdated cut of the same source can be removed. */
  source?: string;
  requestedLayer?: string | null;
}

/** Removes cuts of `source` at `layer` other than `keep` (the file changed since): each is ~the model's size. */
function removeOutdatedCuts(dir: string, source: string, layer: string | null, keep: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith('.json'));
  } catch {
    return;
  }
  for (const name of names) {
    const base = path.join(dir, name.slice(0, -'.json'.length));
    if (base === keep) continue;
    try {
      const other = JSON.parse(fs.readFileSync(`${base}.json`, 'utf8')) as CutRecord;
      if (other.source === source && (other.requestedLayer ?? null) === layer) {
        fs.rmSync(`${base}.json`, { force: true });
        fs.rmSync(`${base}.onnx`, { force: true });
      }
    } catch {
      // unreadable record: leave it
    }
  }
}

/**
 * Cutting ResNet50 means decoding, pruning and re-encoding 100 MB; the result is kept in <store>/cut/, keyed by the
 * source file (path, size, mtime) and the requested layer, so later runs only read a small JSON record.
 */
export function cachedCut(
  file: string,
  layer: string | undefined,
  storeDir: string,
  name: string,
): CutRecord & { cutBytes(): Uint8Array } {
  const stat = fs.statSync(file);
  // ctime cannot be set back by `touch -r` or copy tools that preserve mtime, so a changed file always misses.
  const key = sha256Hex(
    canonicalJson({
      v: 2,
      file,
      size: stat.size,
      mtimeMs: stat.mtimeMs,
      ctimeMs: stat.ctimeMs,
      ino: stat.ino,
      layer: layer ?? null,
    }),
  ).slice(0, 16);
  const base = path.join(storeDir, 'cut', `${name.replace(/[^A-Za-z0-9._-]/g, '_')}-${key}`);
  const lazyRead = (): (() => Uint8Array) => {
    let bytes: Uint8Array | undefined;
    return () => (bytes ??= fs.readFileSync(`${base}.onnx`));
  };
  const worthKeeping = stat.size >= CUT_CACHE_MIN_BYTES;
  try {
    if (!worthKeeping) throw new Error('small model: cutting is cheaper than caching');
    const record = JSON.parse(fs.readFileSync(`${base}.json`, 'utf8')) as CutRecord;
    if (typeof record.fingerprint === 'string' && fs.existsSync(`${base}.onnx`))
      return { ...record, cutBytes: lazyRead() };
  } catch {
    // not cut yet (or a damaged record): cut below
  }
  const cut = cutAtEmbedding(loadModel(file), {
    ...(layer !== undefined ? { layer } : {}),
    source: path.basename(file),
  });
  const bytes = encodeModel(cut.model);
  const record: CutRecord = {
    fingerprint: modelFingerprint(bytes),
    dim: cut.embedding.dim,
    layer: cut.embedding.layer,
    tensor: cut.embedding.tensor,
    source: file,
    requestedLayer: layer ?? null,
  };
  if (!worthKeeping) return { ...record, cutBytes: () => bytes };
  try {
    // The model before its record: a record always points at a complete file.
    writeFileAtomicSync(`${base}.onnx`, bytes);
    writeFileAtomicSync(`${base}.json`, `${JSON.stringify(record)}\n`);
    removeOutdatedCuts(path.dirname(base), file, layer ?? null, base);
  } catch {
    // A read-only store: cut again next time.
  }
  return { ...record, cutBytes: () => bytes };
}
