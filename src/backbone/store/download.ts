/**
 * Verified downloads: stream an HTTP(S) resource into a temporary sibling of the target while hashing it, check the
 * pinned sha256, then rename into place. Any failure (unreachable host, HTTP error, cut connection, wrong hash)
 * removes the temporary file, so the target is either absent, the old file, or the complete verified new one.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as path from 'path';
import { createHash } from 'crypto';
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

function get(url: URL, idleTimeoutMs: number): Promise<http.IncomingMessage> {
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.get(url, { headers: { 'user-agent': 'convfeat', accept: '*/*' } }, resolve);
    req.setTimeout(idleTimeoutMs, () => req.destroy(Object.assign(new Error('no data'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
  });
}

/** Follows redirects to the first non-redirect response; only 200 is accepted. */
async function open(
  url: string,
  opts: Required<Pick<DownloadOptions, 'maxRedirects'>> & DownloadOptions,
  idleMs: number,
): Promise<http.IncomingMessage> {
  let current = new URL(url);
  for (let hop = 0; ; hop++) {
    let res: http.IncomingMessage;
    try {
      res = await get(current, idleMs);
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
    if (status !== 200) {
      res.resume();
      throw new ConvfeatError(
        `Download of ${current.href} failed with HTTP ${status} ${res.statusMessage ?? ''}`.trimEnd() +
          '; check the URL or try again later.',
      );
    }
    return res;
  }
}

/** Streams the body into `tmp`, hashing on the way; rejects if the connection ends early. */
function receive(
  res: http.IncomingMessage,
  tmp: string,
  url: string,
  log?: (line: string) => void,
): Promise<{ sha256: string; bytes: number }> {
  const expected = res.headers['content-length'] ? Number(res.headers['content-length']) : undefined;
  const hash = createHash('sha256');
  let bytes = 0;
  let lastReport = 0;
  return new Promise((resolve, reject) => {
    const out = fs.createWriteStream(tmp, { flags: 'wx' });
    let failed = false;
    const fail = (why: string, cause?: unknown): void => {
      if (failed) return;
      failed = true;
      res.destroy();
      out.destroy();
      const of = expected !== undefined ? ` of ${formatBytes(expected)}` : '';
      reject(
        new ConvfeatError(
          `Download of ${url} was interrupted after ${formatBytes(bytes)}${of} (${why}); nothing was saved — run the fetch again.`,
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
      out.close((err) => (err ? fail(err.message, err) : resolve({ sha256: hash.digest('hex'), bytes })));
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
    const got = await receive(res, tmp, url, opts.log);
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
