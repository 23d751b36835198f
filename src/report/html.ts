/**
 * The report page: one self-contained HTML file (styles inline, pictures as data URIs) that opens anywhere, mails
 * as one attachment and never points at files that may move. Pure string building; writeReport.ts does the I/O.
 */
import type { ClassificationMetrics } from './metrics';
import type { CalibrationSummary } from './calibration';

export interface ReportThumb {
  /** data:image/jpeg;base64,… or null when the image could not be read. */
  src: string | null;
  name: string;
  path: string;
  trueLabel: string;
  predLabel: string;
  /** Probability the classifier gave to its (wrong) prediction and to the true class. */
  pPred: number;
  pTrue: number;
  /** Correct but least confident images: the class that came second, and its probability. */
  runnerUp?: string;
  pRunnerUp?: number;
}

export interface ConfusedPair {
  trueLabel: string;
  predLabel: string;
  count: number;
  /** count / images of the true class. */
  share: number;
  thumbs: ReportThumb[];
}

export interface PagePicture {
  png: Buffer;
  width: number;
  height: number;
}

export interface ReportPage {
  title: string;
  split: string;
  generated: string;
  version: string;
  summary: Array<[string, string]>;
  metrics: ClassificationMetrics;
  /** PNGs rendered at 2× their CSS size (crisp on high-DPI screens). */
  confusion: PagePicture;
  curves: PagePicture | null;
  curvesNote: string | null;
  pairs: ConfusedPair[];
  thumbnails: boolean;
  /** ECE and the reliability diagram (absent: the page has no calibration section). */
  calibration?: CalibrationSummary;
  reliability?: PagePicture;
  /** Correct predictions with the lowest probability on the true class. */
  leastConfident?: ReportThumb[];
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const pct = (v: number, digits = 1): string => `${(100 * v).toFixed(digits)} %`;
/** An inlined PNG shown at half its pixel size, i.e. at the size the chart was laid out for. */
const picture = (p: PagePicture, alt: string): string =>
  `<img class="chart" src="data:image/png;base64,${p.png.toString('base64')}" width="${Math.round(p.width / 2)}" height="${Math.round(p.height / 2)}" alt="${escapeHtml(alt)}">`;

const STYLE = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1a1a1a;margin:0;background:#fafafa}
main{max-width:1100px;margin:0 auto;padding:24px 28px 48px;background:#fff}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 10px;border-bottom:1px solid #e3e3e3;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 8px}.muted{color:#666;font-size:13px}
.headline{display:flex;gap:28px;margin:18px 0 8px}.headline div{font-size:13px;color:#555}.headline b{display:block;font-size:28px;color:#1a1a1a}
table{border-collapse:collapse;font-size:14px}td,th{padding:4px 12px;text-align:left;border-bottom:1px solid #eee}
th{font-weight:600;color:#444}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr.weak td{background:#fff4e5}.summary th{width:220px;font-weight:normal;color:#555}
img.chart{max-width:100%;height:auto;border:1px solid #eee;display:block}
.note{background:#f3f6fa;border-left:4px solid #4c78a8;padding:8px 12px;font-size:14px}
.thumbs{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0;width:112px;font-size:12px}
figure img,figure .missing{width:96px;height:96px;object-fit:cover;border-radius:4px;border:1px solid #ddd;display:block}
figure .missing{display:flex;align-items:center;justify-content:center;color:#999;background:#f4f4f4;text-align:center}
figcaption{margin-top:4px;line-height:1.35;word-break:break-all}.pred{color:#c0392b;font-weight:600}
`;

function summaryTable(rows: Array<[string, string]>): string {
  return `<table class="summary">${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</table>`;
}

function perClassTable(m: ClassificationMetrics): string {
  const row = (
    c: { label: string; precision: number; recall: number; f1: number; support: number },
    cls = '',
  ): string =>
    `<tr${cls ? ` class="${cls}"` : ''}><td>${escapeHtml(c.label)}</td><td class="num">${pct(c.precision)}</td><td class="num">${pct(c.recall)}</td><td class="num">${pct(c.f1)}</td><td class="num">${c.support}</td></tr>`;
  const body = m.perClass.map((c) => row(c, c.support > 0 && c.recall < 0.9 ? 'weak' : '')).join('');
  const avg = [
    row({ label: 'macro average', ...m.macro, support: m.n }),
    row({ label: 'weighted average', ...m.weighted, support: m.n }),
  ].join('');
  return `<table><thead><tr><th>class</th><th class="num">precision</th><th class="num">recall</th><th class="num">F1</th><th class="num">images</th></tr></thead><tbody>${body}${avg}</tbody></table>`;
}

function thumbFigure(t: ReportThumb): string {
  const picture = t.src
    ? `<img src="${t.src}" alt="${escapeHtml(t.name)}" title="${escapeHtml(t.path)}" width="96" height="96">`
    : `<div class="missing" title="${escapeHtml(t.path)}">image not readable</div>`;
  return `<figure>${picture}<figcaption>${escapeHtml(t.name)}<br>true ${escapeHtml(t.trueLabel)}<br><span class="pred">pred ${escapeHtml(t.predLabel)} ${pct(t.pPred, 0)}</span><br><span class="muted">p(true) ${pct(t.pTrue, 0)}</span></figcaption></figure>`;
}

function leastConfidentFigure(t: ReportThumb): string {
  const picture = t.src
    ? `<img src="${t.src}" alt="${escapeHtml(t.name)}" title="${escapeHtml(t.path)}" width="96" height="96">`
    : `<div class="missing" title="${escapeHtml(t.path)}">image not readable</div>`;
  const runner =
    t.runnerUp !== undefined
      ? `<br><span class="muted" style="word-break:normal">next ${escapeHtml(t.runnerUp)} ${pct(t.pRunnerUp ?? 0, 0)}</span>`
      : '';
  // A non-breaking space keeps "39 %" on one line in the narrow caption.
  return `<figure>${picture}<figcaption>${escapeHtml(t.name)}<br>true ${escapeHtml(t.trueLabel)}<br>p(true) ${pct(t.pTrue, 0)}${runner}</figcaption></figure>`.replace(
    / %/g,
    '&nbsp;%',
  );
}

function leastConfidentSection(thumbs: ReportThumb[], thumbnails: boolean): string {
  if (thumbs.length === 0) return `<p class="note">No image was classified correctly.</p>`;
  const intro = `<p class="muted">Right, but only just: the ${thumbs.length} correct predictions with the lowest probability on the true class, and the class that came second.</p>`;
  if (!thumbnails)
    return `${intro}<table><thead><tr><th>image</th><th>true</th><th class="num">p(true)</th><th>next</th><th class="num">p(next)</th></tr></thead><tbody>${thumbs
      .map(
        (t) =>
          `<tr><td>${escapeHtml(t.path)}</td><td>${escapeHtml(t.trueLabel)}</td><td class="num">${pct(t.pTrue)}</td><td>${escapeHtml(t.runnerUp ?? '')}</td><td class="num">${t.pRunnerUp === undefined ? '' : pct(t.pRunnerUp)}</td></tr>`,
      )
      .join('')}</tbody></table>`;
  return `${intro}<div class="thumbs">${thumbs.map(leastConfidentFigure).join('')}</div>`;
}

function calibrationSection(c: CalibrationSummary, picture_: string): string {
  const verdict =
    c.meanConfidence < c.accuracy - 0.005
      ? 'on average the probabilities are lower than the accuracy (under-confident)'
      : c.meanConfidence > c.accuracy + 0.005
        ? 'on average the probabilities are higher than the accuracy (over-confident)'
        : 'on average the probabilities match the accuracy';
  return `<p>Expected calibration error <b>${pct(c.ece, 2)}</b> over ${c.bins} equal-width bins of top-1 confidence: mean confidence ${pct(c.meanConfidence, 2)} against accuracy ${pct(c.accuracy, 2)}; ${verdict}.</p>
${picture_}
<p class="muted">ECE weighs each bin by its share of the images; bins holding a handful of images can sit far from the diagonal by chance.</p>`;
}

function pairsSection(pairs: ConfusedPair[], thumbnails: boolean, m: ClassificationMetrics): string {
  if (pairs.length === 0) return `<p class="note">No image of the ${m.n} was misclassified.</p>`;
  return pairs
    .map((p) => {
      const head = `<h3>${escapeHtml(p.trueLabel)} → predicted ${escapeHtml(p.predLabel)}: ${p.count} image${p.count === 1 ? '' : 's'} <span class="muted">(${pct(p.share)} of ${escapeHtml(p.trueLabel)})</span></h3>`;
      if (!thumbnails) return head;
      const more =
        p.count > p.thumbs.length
          ? `<p class="muted">The ${p.thumbs.length} most confident of ${p.count} errors are shown.</p>`
          : '';
      return `${head}<div class="thumbs">${p.thumbs.map(thumbFigure).join('')}</div>${more}`;
    })
    .join('\n');
}

export function renderReportHtml(page: ReportPage): string {
  const m = page.metrics;
  const top5 = m.topK['5'];
  const headline = [
    `<div><b>${pct(m.accuracy, 2)}</b>accuracy (${Math.round(m.accuracy * m.n)}/${m.n})</div>`,
    top5 !== undefined ? `<div><b>${pct(top5, 2)}</b>top-5 accuracy</div>` : '',
    `<div><b>${pct(m.macro.f1, 2)}</b>macro F1</div>`,
  ].join('');
  const curves = page.curves
    ? picture(page.curves, 'Training curves')
    : `<p class="note">${escapeHtml(page.curvesNote ?? 'No training curves are available for this classifier.')}</p>`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="generator" content="convfeat ${escapeHtml(page.version)}">
<title>${escapeHtml(page.title)}</title><style>${STYLE}</style></head>
<body><main>
<h1>${escapeHtml(page.title)}</h1>
<p class="muted">Split ${escapeHtml(page.split)} · generated ${escapeHtml(page.generated)} by convfeat ${escapeHtml(page.version)}</p>
<div class="headline">${headline}</div>
<h2>Summary</h2>
${summaryTable(page.summary)}
<h2>Per class</h2>
${perClassTable(m)}
<p class="muted">Rows shaded orange have recall below 90 %.</p>
<h2>Confusion matrix</h2>
${picture(page.confusion, 'Confusion matrix: true class down, predicted class across')}
<h2>Training curves</h2>
${curves}
<h2>Most confused pairs</h2>
${pairsSection(page.pairs, page.thumbnails, m)}
${page.leastConfident ? `<h2>Correct but least confident</h2>\n${leastConfidentSection(page.leastConfident, page.thumbnails)}` : ''}
${page.calibration ? `<h2>Calibration</h2>\n${calibrationSection(page.calibration, page.reliability ? picture(page.reliability, 'Reliability diagram: accuracy against confidence per bin') : '')}` : ''}
</main></body></html>
`;
}
