/**
 * The confusion matrix as a heatmap: true class down, predicted class across, the count in every cell, and colour by
 * the share of the true class (row-normalised), so a rare class's errors are as visible as a common one's.
 */
import { invalid } from '../util/validate';
import { renderChart, type RenderedChart, type TopLevelSpec } from './charts';

export interface ConfusionChartOptions {
  title?: string;
  /** Extra line under the title (e.g. split and accuracy). */
  subtitle?: string;
}

/** Cell size in CSS pixels: roomy for a handful of classes, shrinking so 100 classes still fit one screen. */
function cellSize(K: number): number {
  return Math.max(8, Math.min(56, Math.floor(720 / K)));
}

/** Counts written in the cells; errors (off the diagonal) in bold. */
function countLayer(filter: string, fontWeight: 'normal' | 'bold', fontSize: number): Record<string, unknown> {
  return {
    transform: [{ filter }],
    mark: { type: 'text', fontSize, fontWeight, baseline: 'middle' },
    encoding: {
      text: { field: 'count', type: 'quantitative' },
      // Dark text on light cells, white on dark ones; an empty cell's 0 is greyed so the errors stand out.
      color: {
        condition: [
          { test: 'datum.share > 0.45', value: 'white' },
          { test: 'datum.count === 0', value: '#c8c8c8' },
        ],
        value: '#1a1a1a',
      },
    },
  };
}

export function confusionChartSpec(
  matrix: Int32Array,
  classes: string[],
  options: ConfusionChartOptions = {},
): TopLevelSpec {
  const K = classes.length;
  if (!(matrix instanceof Int32Array) || matrix.length !== K * K) {
    throw invalid('matrix', `an Int32Array of ${K} × ${K} counts`, matrix);
  }
  const values: Array<Record<string, unknown>> = [];
  for (let t = 0; t < K; t++) {
    let rowTotal = 0;
    for (let p = 0; p < K; p++) rowTotal += matrix[t * K + p];
    for (let p = 0; p < K; p++) {
      const count = matrix[t * K + p];
      values.push({
        actual: classes[t],
        predicted: classes[p],
        row: t,
        col: p,
        count,
        share: rowTotal ? count / rowTotal : 0,
      });
    }
  }
  const size = cellSize(K);
  // Counts are written only while they fit in a cell; the colour still tells the story beyond that.
  const showText = size >= 18;
  const fontSize = Math.max(9, Math.min(14, Math.floor(size / 3)));
  const order = { sort: classes };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: options.title ?? 'Confusion matrix',
      ...(options.subtitle ? { subtitle: options.subtitle, subtitleFontSize: 12, subtitleColor: '#555' } : {}),
    },
    width: size * K,
    height: size * K,
    data: { values },
    config: { view: { stroke: null } },
    encoding: {
      x: {
        field: 'predicted',
        type: 'nominal',
        ...order,
        title: 'Predicted class',
        axis: { orient: 'top', labelAngle: -40, labelAlign: 'left', domain: false, ticks: false },
      },
      y: { field: 'actual', type: 'nominal', ...order, title: 'True class', axis: { domain: false, ticks: false } },
    },
    layer: [
      {
        mark: { type: 'rect', stroke: '#e2e2e2', strokeWidth: K > 40 ? 0 : 1 },
        encoding: {
          // A square-root scale so a 2 % confusion is visibly tinted next to the white of an empty cell.
          color: {
            condition: { test: 'datum.count === 0', value: 'white' },
            field: 'share',
            type: 'quantitative',
            title: ['Share of', 'true class'],
            scale: { type: 'sqrt', scheme: 'blues', domain: [0, 1] },
            legend: { format: '.0%', gradientLength: Math.min(240, size * K), values: [0.01, 0.1, 0.25, 0.5, 1] },
          },
          tooltip: [
            { field: 'actual', title: 'true' },
            { field: 'predicted', title: 'predicted' },
            { field: 'count', title: 'images' },
            { field: 'share', title: 'share of true class', format: '.1%' },
          ],
        },
      },
      ...(showText
        ? [
            countLayer('datum.row === datum.col || datum.count === 0', 'normal', fontSize),
            countLayer('datum.row !== datum.col && datum.count > 0', 'bold', fontSize),
          ]
        : []),
    ],
  } as unknown as TopLevelSpec;
}

export async function renderConfusionChart(
  matrix: Int32Array,
  classes: string[],
  options: ConfusionChartOptions = {},
): Promise<RenderedChart> {
  return renderChart(confusionChartSpec(matrix, classes, options));
}
