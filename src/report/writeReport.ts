/**
 * `evaluate --report DIR`: confusion.png/.svg, curves.png, index.html and report.json, written into a temporary
 * sibling folder and renamed into place at the end, so an interrupted run never leaves a report that looks complete.
 * An existing DIR is replaced only when it is an earlier convfeat report (it holds our report.json); anything else
 * is refused rather than deleted.
 */
import * as path from 'path';
import type { CacheIdentity } from '../cache';
import type { LinearClassifier } from '../linear';
import { thumbnailDataUri } from '../preprocess/thumbnail';
import { writeOutputFolder } from '../util/swapDir';
import { integerInRange, invalid, nonEmptyString } from '../util/validate';
import { confusionView } from './confusion';
import { renderConfusionChart } from './confusionChart';
import { formatC, missingCurvesReason, renderCurves } from './curves';
import type { EvaluationResult } from './evaluate';
import { renderReportHtml, type ConfusedPair, type ReportThumb } from './html';
import { metricsToJson } from './metrics';
import { convfeatVersion } from '../util/version';
import { calibrationSummary, calibrationToJson } from './calibration';
import { renderReliability } from './reliabilityChart';
import { predictionsCsv } from './predictionsCsv';

export const REPORT_FORMAT = 'convfeat-report';
const REPORT_KIND = { noun: 'report', marker: 'report.json', format: REPORT_FORMAT };
export { THUMBNAIL_SIZE } from '../preprocess/thumbnail';

export interface WriteReportOptions {
  evaluation: EvaluationResult;
  classifier: LinearClassifier;
  /** The cache's identity (model, fingerprints, dim); defaults to what the classifier records. */
  cacheMeta?: Partial<CacheIdentity>;
  /** Thumbnails of misclassified images in the page (default true). */
  thumbnails?: boolean;
  /** How many confused pairs, and images per pair, the page shows (defaults 6 and 8). */
  maxPairs?: number;
  perPair?: number;
  /** How many correct but least confident images the page shows (default 8). */
  leastConfident?: number;
  title?: string;
}

export interface WriteReportResult {
  dir: string;
  files: string[];
  /** Why curves.png is absent, when it is. */
  curvesNote: string | null;
}

/** Off-diagonal cells, largest first; each with its most confident mistakes. */
export async function confusedPairs(
  evaluation: EvaluationResult,
  maxPairs: number,
  perPair: number,
  thumbnails: boolean,
): Promise<ConfusedPair[]> {
  const { metrics, yTrue, yPred, probabilities, paths } = evaluation;
  const K = metrics.classes.length;
  const cells: Array<{ t: number; p: number; count: number }> = [];
  for (let t = 0; t < K; t++)
    for (let p = 0; p < K; p++)
      if (t !== p && metrics.confusion[t * K + p] > 0) cells.push({ t, p, count: metrics.confusion[t * K + p] });
  cells.sort((a, b) => b.count - a.count || a.t - b.t || a.p - b.p);
  const pairs: ConfusedPair[] = [];
  for (const { t, p, count } of cells.slice(0, maxPairs)) {
    const rows: number[] = [];
    for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === t && yPred[i] === p) rows.push(i);
    rows.sort((a, b) => probabilities[b * K + p] - probabilities[a * K + p]);
    const thumbs: ReportThumb[] = [];
    for (const i of rows.slice(0, perPair)) {
      thumbs.push({
        src: thumbnails ? await thumbnailDataUri(paths[i]) : null,
        name: path.basename(paths[i]),
        path: paths[i],
        trueLabel: metrics.classes[t],
        predLabel: metrics.classes[p],
        pPred: probabilities[i * K + p],
        pTrue: probabilities[i * K + t],
      });
    }
    const support = metrics.perClass[t].support;
    pairs.push({
      trueLabel: metrics.classes[t],
      predLabel: metrics.classes[p],
      count,
      share: support ? count / support : 0,
      thumbs,
    });
  }
  return pairs;
}

/** Correct predictions with the lowest probability on the true class: right, but only just. */
export async function leastConfidentCorrect(
  evaluation: EvaluationResult,
  count: number,
  thumbnails: boolean,
): Promise<ReportThumb[]> {
  const { metrics, yTrue, yPred, probabilities, paths } = evaluation;
  const K = metrics.classes.length;
  const rows: number[] = [];
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) rows.push(i);
  rows.sort((a, b) => probabilities[a * K + yTrue[a]] - probabilities[b * K + yTrue[b]] || a - b);
  const out: ReportThumb[] = [];
  for (const i of rows.slice(0, count)) {
    // The runner-up: the class the classifier nearly chose instead.
    let second = -1;
    for (let k = 0; k < K; k++)
      if (k !== yTrue[i] && (second < 0 || probabilities[i * K + k] > probabilities[i * K + second])) second = k;
    out.push({
      src: thumbnails ? await thumbnailDataUri(paths[i]) : null,
      name: path.basename(paths[i]),
      path: paths[i],
      trueLabel: metrics.classes[yTrue[i]],
      predLabel: metrics.classes[yPred[i]],
      pPred: probabilities[i * K + yPred[i]],
      pTrue: probabilities[i * K + yTrue[i]],
      ...(second >= 0 ? { runnerUp: metrics.classes[second], pRunnerUp: probabilities[i * K + second] } : {}),
    });
  }
  return out;
}

function summaryRows(
  evaluation: EvaluationResult,
  clf: LinearClassifier,
  meta: Partial<CacheIdentity>,
): Array<[string, string]> {
  const fingerprint = meta.modelFingerprint ?? clf.backbone.fingerprint;
  const cHow = clf.cSearch
    ? clf.cSearch.method === 'val'
      ? 'chosen on val'
      : `chosen by ${clf.cSearch.folds ?? ''}-fold CV`
    : 'fixed';
  const rows: Array<[string, string]> = [
    [
      'Backbone',
      `${meta.model ?? clf.backbone.model ?? 'unknown'}${fingerprint ? ` (fingerprint ${fingerprint.slice(0, 16)})` : ''}`,
    ],
    ['Embedding size', String(meta.dim ?? clf.dim)],
    ['Solver', clf.solver],
    ['Feature scaling', clf.scaler.kind],
    ['C', `${formatC(clf.C)} (${cHow})`],
  ];
  if (clf.cSearch?.reason) rows.push(['Why this C', clf.cSearch.reason]);
  if (clf.calibratedOn !== 'native')
    rows.push(['Probability calibration', `temperature ${clf.temperature} (fitted on ${clf.calibratedOn})`]);
  if (meta.preprocessFingerprint ?? clf.preprocessFingerprint)
    rows.push(['Preprocessing fingerprint', (meta.preprocessFingerprint ?? clf.preprocessFingerprint) as string]);
  rows.push(
    ['Classes', String(clf.classes.length)],
    ['Images evaluated', `${evaluation.metrics.n} (${evaluation.split} split)`],
  );
  return rows;
}

function checkEvaluation(e: EvaluationResult): void {
  if (
    !e ||
    typeof e !== 'object' ||
    !e.metrics ||
    !(e.yTrue instanceof Int32Array) ||
    !(e.yPred instanceof Int32Array)
  ) {
    throw invalid('evaluation', 'the result of evaluateOnCache', e);
  }
  const K = e.metrics.classes.length;
  if (
    e.yPred.length !== e.yTrue.length ||
    e.paths.length !== e.yTrue.length ||
    e.probabilities.length !== e.yTrue.length * K
  ) {
    throw invalid('evaluation', `rows aligned across yTrue, yPred, paths and probabilities (N × ${K})`, {
      n: e.yTrue.length,
      paths: e.paths.length,
    });
  }
}

export async function writeReport(dir: string, options: WriteReportOptions): Promise<WriteReportResult> {
  nonEmptyString('report directory', dir);
  if (!options || typeof options !== 'object')
    throw invalid('report options', 'an object with evaluation and classifier', options);
  const { evaluation, classifier: clf } = options;
  checkEvaluation(evaluation);
  if (!clf || !clf.fitted) throw invalid('classifier', 'a fitted LinearClassifier', clf);
  const maxPairs = integerInRange('maxPairs', options.maxPairs ?? 6, 0, 100);
  const perPair = integerInRange('perPair', options.perPair ?? 8, 1, 100);
  const thumbnails = options.thumbnails !== false;
  let curvesNote: string | null = null;
  const written = await writeOutputFolder(dir, REPORT_KIND, async () => {
    const m = evaluation.metrics;
    const version = convfeatVersion();
    // Above 40 classes the heatmap shows the most-confused ones (the page's pairs table lists the top confusions).
    const view = confusionView(m.confusion, m.classes);
    const confusion = await renderConfusionChart(view.matrix, view.classes, {
      subtitle: `${evaluation.split} split · ${m.n} images · accuracy ${(100 * m.accuracy).toFixed(2)} %${view.note ? ` · ${view.note}` : ''}`,
    });
    const curves = await renderCurves(clf);
    curvesNote = missingCurvesReason(clf);
    const pairs = await confusedPairs(evaluation, maxPairs, perPair, thumbnails);
    const calibration = calibrationSummary(evaluation.probabilities, evaluation.yTrue, m.classes.length);
    const reliability = await renderReliability(calibration);
    const leastConfident = await leastConfidentCorrect(
      evaluation,
      integerInRange('leastConfident', options.leastConfident ?? 8, 0, 100),
      thumbnails,
    );
    const title =
      options.title ??
      `convfeat report: ${clf.backbone.model ?? options.cacheMeta?.model ?? 'classifier'} + ${clf.solver}`;
    const html = renderReportHtml({
      title,
      split: evaluation.split,
      generated: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      version,
      summary: summaryRows(evaluation, clf, options.cacheMeta ?? {}),
      metrics: m,
      confusion,
      curves,
      curvesNote,
      pairs,
      thumbnails,
      calibration,
      reliability,
      leastConfident,
    });
    const files: Record<string, string | Buffer> = {
      'confusion.png': confusion.png,
      'confusion.svg': confusion.svg,
      'index.html': html,
    };
    if (curves) files['curves.png'] = curves.png;
    files['reliability.png'] = reliability.png;
    files['reliability.svg'] = reliability.svg;
    files['predictions.csv'] = predictionsCsv(evaluation);
    // report.json last among the contents: it marks the folder as ours and carries the numbers for machines.
    files['report.json'] =
      `${JSON.stringify({ format: REPORT_FORMAT, version, split: evaluation.split, curvesNote, metrics: metricsToJson(m), calibration: calibrationToJson(calibration), files: Object.keys(files) }, null, 1)}\n`;
    return files;
  });
  return { ...written, curvesNote };
}
