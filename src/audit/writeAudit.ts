/**
 * `audit --report DIR`: index.html (thumbnails inlined), issues.csv (editable, for --exclude) and audit.json,
 * written into a temporary sibling folder and renamed into place, so an interrupted run never leaves a page that
 * looks complete. An existing DIR is replaced only when it is an earlier audit (it holds our audit.json).
 */
import { thumbnailDataUri } from '../preprocess/thumbnail';
import { writeOutputFolder } from '../util/swapDir';
import { nonEmptyString } from '../util/validate';
import { convfeatVersion } from '../util/version';
import type { AuditResult } from './audit';
import { issuesCsv } from './csv';
import { auditToJson } from './format';
import { renderAuditHtml } from './html';
import { param } from '../util/params';

export const AUDIT_FORMAT = 'convfeat-audit';
const AUDIT_KIND = { noun: 'audit', marker: 'audit.json', format: AUDIT_FORMAT };
const SHOWN = { duplicates: 40, labelIssues: 60, outliers: 40 };

export async function writeAuditReport(dir: string, result: AuditResult): Promise<{ dir: string; files: string[] }> {
  nonEmptyString(param('reportDir'), dir);
  return writeOutputFolder(dir, AUDIT_KIND, async () => {
    const wanted = new Set<number>();
    for (const p of result.duplicates.slice(0, SHOWN.duplicates)) wanted.add(p.a).add(p.b);
    for (const i of result.labelIssues.slice(0, SHOWN.labelIssues)) wanted.add(i.row);
    for (const o of result.outliers.slice(0, SHOWN.outliers)) wanted.add(o.row);
    const thumbs = new Map<number, string | null>();
    for (const r of wanted) thumbs.set(r, await thumbnailDataUri(result.rows[r]!.path));
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
    return files;
  });
}
