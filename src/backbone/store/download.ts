/**
 * Verified downloads: stream an HTTP(S) resource into a temporary sibling of the target while hashing it, check the
 * pinned sha256, then rename into place. Any failure (unreachable host, HTTP error, cut connection, wrong hash)
 * removes the temporary file, so the target is either absent, the old file, or the complete verified new one.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as path from 'path';
import { createHash, type Hash } from 'crypto';
import { ConvfeatError } from '../../util/errors';
import { commitTempFile, tempSibling } from '../../util/atomic';
import { ensureParentDir } from '../../util/dirs';

export interface DownloadOptions {
  sha256: string;
  /** Sentence appended when the host cannot be reached at all (what to do offline). */
  offlineHint?: string;
  log?: (line: string) => void;
  /** Seconds without any bytes before the transfer counts as interrupted. */
  idleTimeoutS?: number;
  maxRedirects?: number;
}

export interface DownloadResult {
  file: string;
  sha256: string;
  bytes: number;
}

/** Error codes meaning "no connection at all" (as opposed to a connection that broke). */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENETDOWN',
  'ECONNABORTED',
]);

export function formatBytes(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${n} B`;
}

function get(url: URL, idleTimeoutMs: number, headers: Record<string, string> = {}): Promise<http.IncomingMessage> {
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.get(url, { headers: { 'user-agent': 'convfeat', accept: '*/*', ...headers } }, resolve);
    req.setTimeout(idleTimeoutMs, () => req.destroy(Object.assign(new Error('no data'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
  });
}

/** Follows redirects to the first non-redirect response; only 200 is accepted (and 206 when a range was asked). */
async function open(
  url: string,
  opts: Required<Pick<DownloadOptions, 'maxRedirects'>> & Pick<DownloadOptions, 'offlineHint'>,
  idleMs: number,
  headers: Record<string, string> = {},
): Promise<http.IncomingMessage> {
  let current = new URL(url);
  for (let hop = 0; ; hop++) {
    let res: http.IncomingMessage;
    try {
      res = await get(current, idleMs, headers);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      if (UNREACHABLE.has(code) || code === 'ETIMEDOUT') {
        throw new ConvfeatError(
          `Cannot reach ${current.host} to download ${url} (${code})${opts.offlineHint ? `; ${opts.offlineHint}` : '.'}`,
          1,
          { cause: e },
        );
      }
      throw new ConvfeatError(`Download of ${url} failed before any data arrived (${code}); run the fetch again.`, 1, {
        cause: e,
      });
    }
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      if (hop >= opts.maxRedirects)
        throw new ConvfeatError(
          `Download of ${url} was redirected more than ${opts.maxRedirects} times; the URL in the manifest is wrong.`,
        );
      current = new URL(res.headers.location, current);
      continue;
    }
    if (status !== 200 && !((status === 206 || status === 416) && headers.range !== undefined)) {
      res.resume();
      throw new ConvfeatError(
        `Download of ${current.href} failed with HTTP ${status} ${res.statusMessage ?? ''}`.trimEnd() +
          '; check the URL or try again later.',
      );
    }
    return res;
  }
}

/** How `receive` writes: a fresh temp file (default), or appending to a kept partial file whose bytes are hashed. */
interface ReceiveMode {
  flags: 'wx' | 'w' | 'a';
  hash: Hash;
  /** Bytes already in the file (and in `hash`) before this response. */
  offset: number;
  /** The sentence after "interrupted after …" (default: nothing was saved). */
  onInterrupt: string;
}

/** Streams the body into `tmp`, hashing on the way; rejects if the connection ends early. */
function receive(
  res: http.IncomingMessage,
  tmp: string,
  url: string,
  log: ((line: string) => void) | undefined,
  mode: ReceiveMode,
): Promise<number> {
  const length = res.headers['content-length'] ? Number(res.headers['content-length']) : undefined;
  const expected = length !== undefined ? length + mode.offset : undefined;
  const hash = mode.hash;
  let bytes = mode.offset;
  let lastReport = mode.offset;
  return new Promise((resolve, reject) => {
    const out = fs.createWriteStream(tmp, { flags: mode.flags });
    let failed = false;
    const fail = (why: string, cause?: unknown): void => {
      if (failed) return;
      failed = true;
      res.destroy();
      out.destroy();
      const of = expected !== undefined ? ` of ${formatBytes(expected)}` : '';
      reject(
        new ConvfeatError(
          `Download of ${url} was interrupted after ${formatBytes(bytes)}${of} (${why}); ${mode.onInterrupt}.`,
          1,
          { cause },
        ),
      );
    };
    res.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
      if (log && expected && bytes - lastReport >= expected / 10) {
        lastReport = bytes;
        log(`  ${Math.round((100 * bytes) / expected)} % (${formatBytes(bytes)})`);
      }
    });
    res.on('aborted', () => fail('connection closed by the server'));
    res.on('error', (e) => fail((e as NodeJS.ErrnoException).code ?? e.message, e));
    out.on('error', (e) => fail(`cannot write ${tmp}: ${(e as NodeJS.ErrnoException).code ?? e.message}`, e));
    res.pipe(out);
    out.on('finish', () => {
      if (failed) return;
      if (!res.complete || (expected !== undefined && bytes !== expected)) {
        fail('connection closed early');
        return;
      }
      out.close((err) => (err ? fail(err.message, err) : resolve(bytes)));
    });
  });
}

/**
 * Downloads `url` to `target` if its sha256 equals `opts.sha256`. The target is replaced atomically; on any error no
 * new file is left behind.
 */
export async function downloadVerified(url: string, target: string, opts: DownloadOptions): Promise<DownloadResult> {
  const idleMs = (opts.idleTimeoutS ?? 60) * 1000;
  ensureParentDir(target);
  const res = await open(url, { maxRedirects: 5, ...opts }, idleMs);
  const size = res.headers['content-length'] ? ` (${formatBytes(Number(res.headers['content-length']))})` : '';
  opts.log?.(`Downloading ${url}${size}`);
  const tmp = tempSibling(target);
  try {
    const hash = createHash('sha256');
    const bytes = await receive(res, tmp, url, opts.log, {
      flags: 'wx',
      hash,
      offset: 0,
      onInterrupt: 'nothing was saved — run the fetch again',
    });
    const got = { sha256: hash.digest('hex'), bytes };
    if (got.sha256 !== opts.sha256) {
      throw new ConvfeatError(
        `Downloaded ${url} has sha256 ${got.sha256} but the manifest pins ${opts.sha256}; the file is corrupted or changed upstream, so nothing was saved.`,
      );
    }
    // On disk before the rename (as util/atomic's writers do): a crash must not leave a short file under the name.
    const fd = fs.openSync(tmp, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    commitTempFile(tmp, target);
    return { file: target, sha256: got.sha256, bytes: got.bytes };
  } finally {
    await fs.promises.rm(tmp, { force: true });
  }
}

/** Removes temporary siblings of `target` left by a process that died mid-download (its pid no longer runs). */
export function removeStaleTemps(target: string): void {
  const dir = path.dirname(target);
  const prefix = `.${path.basename(target)}.tmp-`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (Number.isInteger(pid) && pid !== process.pid && !isAlive(pid))
      fs.rmSync(path.join(dir, name), { force: true, recursive: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface ResumableDownloadOptions extends Omit<DownloadOptions, 'sha256'> {
  /** Subresource-integrity string as npm registries publish it: `sha512-<base64>` (or sha256/sha384). */
  integrity: string;
}

export interface ResumableDownloadResult {
  file: string;
  integrity: string;
  bytes: number;
  /** Bytes kept from an earlier interrupted run (0 for a fresh transfer). */
  resumedFrom: number;
}

/** Parses `sha512-<base64>`; the algorithm and the expected digest in base64. */
export function parseIntegrity(integrity: string): { algorithm: 'sha256' | 'sha384' | 'sha512'; digest: string } {
  const m = /^(sha256|sha384|sha512)-([A-Za-z0-9+/]+={0,2})$/.exec(integrity.trim());
  if (!m) {
    throw new ConvfeatError(
      `Expected an integrity string like sha512-<base64> (as \`npm view PKG dist.integrity\` prints) but received ${JSON.stringify(integrity)}.`,
      2,
    );
  }
  return { algorithm: m[1] as 'sha256' | 'sha384' | 'sha512', digest: m[2]! };
}

/** The file name that keeps an interrupted transfer of `target` for the next run to continue. */
export function partialFile(target: string): string {
  return `${target}.partial`;
}

async function hashFileInto(file: string, hash: Hash): Promise<void> {
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
}

/**
 * Large downloads (the 179 MB CUDA provider): like downloadVerified, but an interrupted transfer keeps its bytes in
 * `<target>.partial` and the next call asks the server for the rest (HTTP Range). The bytes already kept are hashed
 * again first, so the integrity check always covers the whole file; a server that ignores the range (200) restarts
 * the transfer. A wrong digest deletes the partial file: resuming it could never succeed.
 */
export async function downloadResumable(
  url: string,
  target: string,
  opts: ResumableDownloadOptions,
): Promise<ResumableDownloadResult> {
  const { algorithm, digest } = parseIntegrity(opts.integrity);
  const idleMs = (opts.idleTimeoutS ?? 60) * 1000;
  await fs.promises.mkdir(path.dirname(target), { recursive: true });
  const partial = partialFile(target);
  const kept = fs.existsSync(partial) ? fs.statSync(partial).size : 0;
  const headers: Record<string, string> = kept > 0 ? { range: `bytes=${kept}-` } : {};
  const res = await open(url, { maxRedirects: opts.maxRedirects ?? 5, offlineHint: opts.offlineHint }, idleMs, headers);
  const hash = createHash(algorithm);
  let offset = 0;
  if (res.statusCode === 416) {
    // Nothing left to send: the partial file is already complete (a run that stopped between download and rename).
    res.resume();
    await hashFileInto(partial, hash);
    const whole = hash.digest('base64');
    if (whole === digest) {
      commitTempFile(partial, target);
      return { file: target, integrity: `${algorithm}-${whole}`, bytes: kept, resumedFrom: kept };
    }
    fs.rmSync(partial, { force: true });
    throw new ConvfeatError(
      `The kept partial download ${partial} does not match ${algorithm}-${digest}; it was removed, run the command again.`,
    );
  }
  if (res.statusCode === 206) {
    const range = /^bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
    if (range && Number(range[1]) === kept) {
      await hashFileInto(partial, hash);
      offset = kept;
    } else {
      res.resume();
      fs.rmSync(partial, { force: true });
      throw new ConvfeatError(
        `The server answered the request to resume ${url} at byte ${kept} with a different range (${String(res.headers['content-range'])}); the partial download was removed, run the command again.`,
      );
    }
  }
  const total = res.headers['content-length'] ? Number(res.headers['content-length']) + offset : undefined;
  opts.log?.(
    offset > 0
      ? `Resuming ${url} at ${formatBytes(offset)}${total !== undefined ? ` of ${formatBytes(total)}` : ''}`
      : `Downloading ${url}${total !== undefined ? ` (${formatBytes(total)})` : ''}`,
  );
  const bytes = await receive(res, partial, url, opts.log, {
    flags: offset > 0 ? 'a' : 'w',
    hash,
    offset,
    onInterrupt: `the bytes received are kept in ${partial}; run the same command again to resume`,
  });
  const got = hash.digest('base64');
  if (got !== digest) {
    fs.rmSync(partial, { force: true });
    throw new ConvfeatError(
      `Downloaded ${url} has integrity ${algorithm}-${got} but ${algorithm}-${digest} was expected; the file is corrupted or changed upstream, so it was deleted and nothing was installed.`,
    );
  }
  const fd = fs.openSync(partial, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  commitTempFile(partial, target);
  return { file: target, integrity: `${algorithm}-${got}`, bytes, resumedFrom: offset };
}
