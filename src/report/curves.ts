/**
 * Training curves of a fitted classifier: for softmax, loss and accuracy per L-BFGS iteration on train and val (from
 * `classifier.history`); for any solver whose C was searched, validation (or CV) accuracy against C on a log axis
 * (from `classifier.cSearch`). Panels sit side by side; a classifier with neither has no curves, and says why.
 */
import type { CSearchResult, LinearClassifier, TrainingCurvePoint } from '../linear';
import type { DeepReadonly } from '../linear/fitted';
import { percentAxis, renderChart, SERIES_COLORS, type RenderedChart, type TopLevelSpec } from './charts';

const PANEL = { width: 320, height: 240 };
const SPLIT_COLORS = { scale: { domain: ['train', 'val'], range: SERIES_COLORS.slice(0, 2) }, title: 'Split' };

function historyRows(history: readonly TrainingCurvePoint[]): Array<Record<string, unknown>> {
  const rows: Array<Record<string, unknown>> = [];
  for (const p of history) {
    rows.push({ iteration: p.iteration, split: 'train', loss: p.trainLoss, accuracy: p.trainAccuracy });
    if (p.valLoss !== undefined || p.valAccuracy !== undefined) {
      rows.push({ iteration: p.iteration, split: 'val', loss: p.valLoss ?? null, accuracy: p.valAccuracy ?? null });
    }
  }
  return rows;
}

/** A percent y encoding whose ticks are distinct and exact (charts.ts percentAxis). */
function percentY(field: string, title: string, values: number[]): Record<string, unknown> {
  const axis = percentAxis(Math.min(...values), Math.max(...values));
  return {
    field,
    type: 'quantitative',
    title,
    scale: { domain: axis.domain, nice: false, zero: false },
    axis: { values: axis.values, format: axis.format },
  };
}

function historyPanel(history: readonly TrainingCurvePoint[], metric: 'loss' | 'accuracy'): Record<string, unknown> {
  const accuracies = history.flatMap((p) =>
    p.valAccuracy === undefined ? [p.trainAccuracy] : [p.trainAccuracy, p.valAccuracy],
  );
  const losses = history.flatMap((p) => (p.valLoss === undefined ? [p.trainLoss] : [p.trainLoss, p.valLoss]));
  // A log axis only when the loss falls over more than an order of magnitude; otherwise it just crowds the labels.
  const positive = Math.min(...losses) > 0 && Math.max(...losses) / Math.min(...losses) > 10;
  // Cross-entropy falls over orders of magnitude: a log axis keeps the late iterations readable.
  const y =
    metric === 'loss'
      ? {
          field: 'loss',
          type: 'quantitative',
          title: 'Cross-entropy loss',
          scale: positive ? { type: 'log' } : { zero: false },
        }
      : percentY('accuracy', 'Accuracy', accuracies);
  const last = history[history.length - 1];
  const fmt = (v: number | undefined): string =>
    v === undefined ? '–' : metric === 'loss' ? v.toFixed(3) : `${(100 * v).toFixed(1)} %`;
  const final =
    metric === 'loss'
      ? `final: train ${fmt(last.trainLoss)}${last.valLoss !== undefined ? ` · val ${fmt(last.valLoss)}` : ''}`
      : `final: train ${fmt(last.trainAccuracy)}${last.valAccuracy !== undefined ? ` · val ${fmt(last.valAccuracy)}` : ''}`;
  return {
    title: {
      text: metric === 'loss' ? 'Loss per iteration' : 'Accuracy per iteration',
      subtitle: final,
      subtitleColor: '#555',
    },
    ...PANEL,
    data: { values: historyRows(history) },
    transform: [{ filter: `isValid(datum.${metric})` }],
    // Straight segments: a smoothed line would overshoot 100 % between iterations.
    mark: { type: 'line', strokeWidth: 2 },
    encoding: {
      // Iterations are whole numbers: no "0.5" ticks, no "1.0" labels on a short history.
      x: {
        field: 'iteration',
        type: 'quantitative',
        title: 'L-BFGS iteration',
        axis: { tickMinStep: 1, format: 'd' },
      },
      y,
      color: { field: 'split', type: 'nominal', ...SPLIT_COLORS },
      tooltip: [{ field: 'iteration' }, { field: 'split' }, { field: metric, format: '.4f' }],
    },
  };
}

function cSearchPanel(search: DeepReadonly<CSearchResult>): Record<string, unknown> {
  const how = search.method === 'val' ? 'Validation accuracy' : `${search.folds ?? ''}-fold CV accuracy`.trim();
  const rows = search.table.map((r) => ({ C: r.C, score: r.score, chosen: r.C === search.C }));
  return {
    title: { text: `${how} against C`, subtitle: `chosen C = ${formatC(search.C)}`, subtitleColor: '#555' },
    ...PANEL,
    data: { values: rows },
    encoding: {
      x: {
        field: 'C',
        type: 'quantitative',
        title: 'C (log scale)',
        scale: { type: 'log' },
        axis: { format: '~g', values: decades(search.table.map((r) => r.C)), labelFlush: false },
      },
      y: percentY(
        'score',
        how,
        search.table.map((r) => r.score),
      ),
    },
    layer: [
      { mark: { type: 'line', color: SERIES_COLORS[0], strokeWidth: 2 } },
      {
        mark: { type: 'point', filled: true, size: 50, color: SERIES_COLORS[0] },
        encoding: {
          tooltip: [
            { field: 'C', format: '.3g' },
            { field: 'score', format: '.2%' },
          ],
        },
      },
      {
        transform: [{ filter: 'datum.chosen' }],
        mark: { type: 'point', shape: 'circle', size: 220, filled: false, strokeWidth: 2.5, color: SERIES_COLORS[1] },
      },
      {
        transform: [{ filter: 'datum.chosen' }],
        mark: { type: 'rule', strokeDash: [4, 3], color: SERIES_COLORS[1] },
        encoding: { y: null },
      },
    ],
  };
}

/** Powers of ten spanning the values: the only gridlines and labels a log axis needs. */
function decades(values: number[]): number[] {
  const lo = Math.floor(Math.log10(Math.min(...values)));
  const hi = Math.ceil(Math.log10(Math.max(...values)));
  const out: number[] = [];
  for (let e = lo; e <= hi; e++) out.push(Number(`1e${e}`));
  return out;
}

export function formatC(C: number): string {
  return C >= 0.01 && C < 1000 ? String(Number(C.toPrecision(3))) : C.toExponential(2);
}

/** Why a classifier has no curves, or null when it has some. */
export function missingCurvesReason(clf: Pick<LinearClassifier, 'history' | 'cSearch' | 'solver'>): string | null {
  const hasHistory = Array.isArray(clf.history) && clf.history.length > 0;
  const hasSearch = !!clf.cSearch && clf.cSearch.table.length > 1;
  if (hasHistory || hasSearch) return null;
  return clf.solver === 'softmax'
    ? 'This classifier recorded no training history, so there are no curves; refit it with convfeat fit-linear --solver softmax.'
    : 'This classifier was trained with a fixed C, so there is no C search to plot; refit it with --C auto to get the curve.';
}

/** A Vega-Lite spec with one panel per available curve, or null when the classifier has none. */
export function curvesSpec(clf: Pick<LinearClassifier, 'history' | 'cSearch' | 'solver'>): TopLevelSpec | null {
  if (missingCurvesReason(clf) !== null) return null;
  const panels: Array<Record<string, unknown>> = [];
  if (clf.history && clf.history.length > 0)
    panels.push(historyPanel(clf.history, 'loss'), historyPanel(clf.history, 'accuracy'));
  if (clf.cSearch && clf.cSearch.table.length > 1) panels.push(cSearchPanel(clf.cSearch));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    // Two panels per row keep the text readable when the page scales the picture to its width.
    concat: panels,
    columns: 2,
    spacing: { row: 28, column: 36 },
    // Each panel carries its own legend (the C panel has one series and none); a shared legend sat under the C panel
    // and its single line was read as "train".
    resolve: { scale: { color: 'independent' }, legend: { color: 'independent' } },
    config: { legend: { orient: 'bottom', direction: 'horizontal' } },
  } as unknown as TopLevelSpec;
}

export async function renderCurves(
  clf: Pick<LinearClassifier, 'history' | 'cSearch' | 'solver'>,
): Promise<RenderedChart | null> {
  const spec = curvesSpec(clf);
  return spec ? renderChart(spec) : null;
}
