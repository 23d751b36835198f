/**
 * `audit --report DIR`: index.html (thumbnails inlined), issues.csv (editable, for --exclude) and audit.json,
 * written into a temporary sibling folder and renamed into place, so an interrupted run never leaves a page that
 * looks complete. An existing DIR is replaced only when it is an earlier audit (it holds our audit.json).
 */
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { ConvfeatError } from '../util/errors';
import { nonEmptyString } from '../util/validate';
import { convfeatVersion } from '../util/version';
import type { AuditResult } from './audit';
import { issuesCsv } from './csv';
import { auditToJson } from './format';
import { renderAuditHtml } from './html';

export const AUDIT_FORMAT = 'convfeat-audit';
const THUMBNAIL_SIZE = 96;
const SHOWN = { duplicates: 40, labelIssues: 60, outliers: 40 };

async function thumbnail(file: string): Promise<string | null> {
  try {
    const jpeg = await sharp(file, { failOn: 'none' })
      .rotate()
      .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'cover' })
      .flatten({ background: '#ffffff' })
      .jpeg({ quality: 72 })
      .toBuffer();
    return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
  } catch {
    return null; // moved or unreadable since extraction: the page says so
  }
}

function cannotWrite(dir: string, e: unknown): ConvfeatError {
  const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  return new ConvfeatError(
    `Cannot write the audit to ${dir} (${code}); choose a directory you can write to with --report.`,
  );
}

function checkTarget(dir: string): boolean {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw cannotWrite(dir, e);
  }
  if (!stat.isDirectory())
    throw new ConvfeatError(`${dir} exists and is not a directory; choose another --report directory.`);
  if (fs.readdirSync(dir).length === 0) return true;
  try {
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'audit.json'), 'utf8')) as { format?: string };
    if (json.format === AUDIT_FORMAT) return true;
  } catch {
    // not one of ours
  }
  throw new ConvfeatError(
    `${dir} already holds other files and is not a convfeat audit; choose an empty or new --report directory.`,
  );
}

export async function writeAuditReport(dir: string, result: AuditResult): Promise<{ dir: string; files: string[] }> {
  nonEmptyString('--report', dir);
  const target = path.resolve(dir);
  const exists = checkTarget(target);
  let staging: string;
  try {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    staging = fs.mkdtempSync(path.join(path.dirname(target), `.${path.basename(target)}.tmp-`));
  } catch (e) {
    throw cannotWrite(dir, e);
  }
  try {
    const wanted = new Set<number>();
    for (const p of result.duplicates.slice(0, SHOWN.duplicates)) wanted.add(p.a).add(p.b);
    for (const i of result.labelIssues.slice(0, SHOWN.labelIssues)) wanted.add(i.row);
    for (const o of result.outliers.slice(0, SHOWN.outliers)) wanted.add(o.row);
    const thumbs = new Map<number, string | null>();
    for (const r of wanted) thumbs.set(r, await thumbnail(result.rows[r]!.path));
    const version = convfeatVersion();
    const files: Record<string, string> = {
      'index.html': renderAuditHtml({
        result,
        generated: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        version,
        thumbs,
        shown: SHOWN,
      }),
      'issues.csv': issuesCsv(result),
    };
    files['audit.json'] = `${JSON.stringify({ format: AUDIT_FORMAT, version, ...auditToJson(result) }, null, 1)}\n`;
    for (const [name, data] of Object.entries(files)) fs.writeFileSync(path.join(staging, name), data);
    const old = exists ? `${staging}-old` : null;
    if (old) fs.renameSync(target, old);
    try {
      fs.renameSync(staging, target);
    } catch (e) {
      if (old) fs.renameSync(old, target);
      throw e;
    }
    if (old) fs.rmSync(old, { recursive: true, force: true });
    return { dir: target, files: Object.keys(files).map((f) => path.join(target, f)) };
  } catch (e) {
    fs.rmSync(staging, { recursive: true, force: true });
    if (e instanceof ConvfeatError) throw e;
    throw cannotWrite(dir, e);
  }
}
