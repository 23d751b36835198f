/**
 * The audit page: one self-contained HTML file (thumbnails inlined as data URIs) in the look of the evaluation
 * report, so the two read as one product: leakage first with both images of each pair side by side, then likely
 * label errors with the given and the suggested label, then outliers. Pure string building; writeAudit.ts does I/O.
 */
import type { AuditResult } from './audit';
import { duplicateRule } from './format';

export interface AuditPage {
  result: AuditResult;
  generated: string;
  version: string;
  /** Thumbnail data URI per row id that the page shows (null: unreadable). */
  thumbs: Map<number, string | null>;
  /** How many of each list the page shows. */
  shown: { duplicates: number; labelIssues: number; outliers: number };
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const STYLE = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1a1a1a;margin:0;background:#fafafa}
main{max-width:1100px;margin:0 auto;padding:24px 28px 48px;background:#fff}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 10px;border-bottom:1px solid #e3e3e3;padding-bottom:4px}
.muted{color:#666;font-size:13px}
.headline{display:flex;gap:28px;margin:18px 0 8px}.headline div{font-size:13px;color:#555}.headline b{display:block;font-size:28px;color:#1a1a1a}
.note{background:#f3f6fa;border-left:4px solid #4c78a8;padding:8px 12px;font-size:14px}
.warn{background:#fff4e5;border-left:4px solid #e67e22;padding:8px 12px;font-size:14px}
.pairs{display:flex;flex-wrap:wrap;gap:14px}.pair{display:flex;gap:6px;border:1px solid #eee;border-radius:6px;padding:6px;align-items:flex-start}
.pair.leak{border-color:#e67e22;background:#fffaf3}.pair .sim{writing-mode:vertical-rl;font-size:12px;color:#555;align-self:center}
.thumbs{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0;width:112px;font-size:12px}
figure img,figure .missing{width:96px;height:96px;object-fit:cover;border-radius:4px;border:1px solid #ddd;display:block}
figure .missing{display:flex;align-items:center;justify-content:center;color:#999;background:#f4f4f4;text-align:center}
figcaption{margin-top:4px;line-height:1.35;word-break:break-all}.given{color:#c0392b;text-decoration:line-through}
.suggested{color:#1e7e34;font-weight:600}
`;

function figure(page: AuditPage, row: number, caption: string): string {
  const x = page.result.rows[row]!;
  const src = page.thumbs.get(row);
  const name = x.relPath.split('/').pop()!;
  const pic = src
    ? `<img src="${src}" alt="${escapeHtml(name)}" title="${escapeHtml(x.path)}" width="96" height="96">`
    : `<div class="missing" title="${escapeHtml(x.path)}">image not readable</div>`;
  return `<figure>${pic}<figcaption>${escapeHtml(name)}<br><span class="muted">${escapeHtml([x.split, x.label].filter(Boolean).join(' · '))}</span>${caption}</figcaption></figure>`;
}

const more = (shown: number, total: number, what: string): string =>
  total > shown ? `<p class="muted">The first ${shown} of ${total} ${what} are shown; issues.csv lists all.</p>` : '';

function duplicatesSection(page: AuditPage): string {
  const r = page.result;
  const cross = r.duplicates.filter((p) => p.crossSplit).length;
  let head = `<p>${r.duplicates.length} pair${r.duplicates.length === 1 ? '' : 's'} (${escapeHtml(duplicateRule(r))}); <b>${cross} across splits</b> (leakage, outlined in orange, listed first).${r.similarNotDuplicate > 0 ? ` ${r.similarNotDuplicate} more candidate pairs were similar in content but different pictures and are not listed.` : ''}</p>`;
  if (r.leakage) {
    const l = r.leakage;
    head += `<p class="${l.leaked > 0 ? 'warn' : 'note'}">${escapeHtml(l.split)} accuracy <b>${(100 * l.accuracy).toFixed(2)} %</b> on all ${l.images} images; ${l.cleanedAccuracy === null ? 'every image has a duplicate in another split' : `<b>${(100 * l.cleanedAccuracy).toFixed(2)} %</b> on the ${l.images - l.leaked} that have no duplicate in another split`} <span class="muted">(${escapeHtml(l.classifier)})</span>.</p>`;
  } else if (r.leakageNote) head += `<p class="note">Leakage effect not measured: ${escapeHtml(r.leakageNote)}.</p>`;
  if (r.duplicates.length === 0) return head;
  const pairs = r.duplicates
    .slice(0, page.shown.duplicates)
    .map(
      (p) =>
        `<div class="pair${p.crossSplit ? ' leak' : ''}">${figure(page, p.a, '')}<span class="sim">${p.kind === 'exact' ? 'same bytes' : `cos ${p.score.toFixed(3)}${p.pixel !== null ? ` · px ${p.pixel.toFixed(3)}` : ''}`}</span>${figure(page, p.b, '')}</div>`,
    )
    .join('');
  return `${head}<div class="pairs">${pairs}</div>${more(page.shown.duplicates, r.duplicates.length, 'pairs')}`;
}

function labelsSection(page: AuditPage): string {
  const r = page.result;
  if (r.labelsSkipped) return `<p class="note">Label checks skipped: ${escapeHtml(r.labelsSkipped)}.</p>`;
  const head = `<p>${r.labelIssues.length} image${r.labelIssues.length === 1 ? '' : 's'} whose given label is probably wrong: confident learning (Northcutt, Jiang &amp; Chuang, JAIR 2021) on ${r.labelCheck!.folds}-fold out-of-fold probabilities of the linear SVM, lowest probability of the given label first.</p>`;
  if (r.labelIssues.length === 0) return head;
  const figs = r.labelIssues
    .slice(0, page.shown.labelIssues)
    .map((i) =>
      figure(
        page,
        i.row,
        `<br><span class="given">${escapeHtml(r.rows[i.row]!.label ?? '')}</span> ${(100 * i.selfConfidence).toFixed(0)} %<br><span class="suggested">→ ${escapeHtml(r.classes[i.suggested]!)} ${(100 * i.suggestedConfidence).toFixed(0)} %</span>`,
      ),
    )
    .join('');
  return `${head}<div class="thumbs">${figs}</div>${more(page.shown.labelIssues, r.labelIssues.length, 'suspects')}`;
}

function outliersSection(page: AuditPage): string {
  const r = page.result;
  const head = `<p>${r.outliers.length} image${r.outliers.length === 1 ? '' : 's'} unusually far from their ${r.outlierK} nearest ${r.outliersPerClass ? 'same-class ' : ''}neighbours (mean cosine more than ${r.outlierZ} robust standard deviations below the ${r.outliersPerClass ? "class's" : ''} median).</p>`;
  if (r.outliers.length === 0) return head;
  const figs = r.outliers
    .slice(0, page.shown.outliers)
    .map((o) =>
      figure(
        page,
        o.row,
        `<br>similarity ${o.score.toFixed(2)}<br><span class="muted">median ${o.groupMedian.toFixed(2)}</span>`,
      ),
    )
    .join('');
  return `${head}<div class="thumbs">${figs}</div>${more(page.shown.outliers, r.outliers.length, 'outliers')}`;
}

export function renderAuditHtml(page: AuditPage): string {
  const r = page.result;
  const cross = r.duplicates.filter((p) => p.crossSplit).length;
  const headline = [
    `<div><b>${r.rows.length}</b>images</div>`,
    `<div><b>${cross}</b>leaked pairs</div>`,
    `<div><b>${r.duplicates.length - cross}</b>duplicates within a split</div>`,
    `<div><b>${r.labelsSkipped ? '–' : r.labelIssues.length}</b>likely label errors</div>`,
    `<div><b>${r.outliers.length}</b>outliers</div>`,
  ].join('');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="generator" content="convfeat ${escapeHtml(page.version)}">
<title>convfeat audit: ${escapeHtml(r.cache)}</title><style>${STYLE}</style></head>
<body><main>
<h1>convfeat audit</h1>
<p class="muted">${escapeHtml(r.model)} embeddings (${r.dim}-d) · ${r.classes.length} classes · generated ${escapeHtml(page.generated)} by convfeat ${escapeHtml(page.version)}</p>
<div class="headline">${headline}</div>
<p class="note">Every flagged image is in <code>issues.csv</code> beside this page with <code>exclude</code> = yes. Set it to no for the ones to keep, then pass the file to <code>convfeat fit-linear --exclude</code> or <code>convfeat evaluate --exclude</code>.</p>
<h2>Duplicates and leakage</h2>
${duplicatesSection(page)}
<h2>Likely label errors</h2>
${labelsSection(page)}
<h2>Outliers</h2>
${outliersSection(page)}
</main></body></html>
`;
}
