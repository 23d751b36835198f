/** The learning curve as a picture (mean ± std over seeds, log-x) and as text for the terminal. */
import { writeFileAtomicSync } from '../util/atomic';
import { ConvfeatError } from '../util/errors';
import type { Advice } from './advise';
import { percentAxis, renderChart, SERIES_COLORS, type RenderedChart, type TopLevelSpec } from './charts';
import { formatC } from './curves';

function how(advice: Advice): string {
  return advice.evaluation.method === 'val'
    ? `val accuracy (${advice.evaluation.size} images)`
    : `${advice.evaluation.folds}-fold CV accuracy`;
}

export function adviceChartSpec(advice: Advice): TopLevelSpec {
  const rows = advice.points.map((p) => ({
    images: p.trainSize,
    fraction: p.fraction,
    mean: p.mean,
    lo: Math.max(0, p.mean - p.std),
    hi: Math.min(1, p.mean + p.std),
    std: p.std,
  }));
  const runs = advice.points.flatMap((p) => p.accuracies.map((a) => ({ images: p.trainSize, accuracy: a })));
  const seeds = advice.points[0]?.accuracies.length ?? 0;
  const lowest = Math.min(...advice.points.map((p) => p.mean - p.std), ...runs.map((r) => r.accuracy));
  // Ticks chosen with their labels: distinct and true at their position (a .0% format on a 0.5 % grid was not).
  const yAxis = percentAxis(lowest - 0.002, 1);
  const x = {
    field: 'images',
    type: 'quantitative',
    title: 'Training images (log scale)',
    scale: { type: 'log', nice: false, padding: 16 },
    axis: { format: 'd', values: rows.map((r) => r.images) },
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: 'Learning curve',
      // Two short lines: headless Vega estimates text width generously, and one long line would widen the picture.
      subtitle: [
        `${advice.solver}, C = ${advice.C === null ? 'chosen per subset' : formatC(advice.C)} · ${how(advice)}`,
        `mean ± std over ${seeds} seed${seeds === 1 ? '' : 's'} · last doubling ${advice.slopePerDoubling >= 0 ? '+' : ''}${advice.slopePerDoubling.toFixed(2)} points`,
      ],
      subtitleColor: '#555',
    },
    width: 520,
    height: 300,
    layer: [
      {
        data: { values: runs },
        mark: { type: 'point', filled: true, size: 22, opacity: 0.35, color: '#888' },
        encoding: { x, y: { field: 'accuracy', type: 'quantitative' } },
      },
      {
        data: { values: rows },
        layer: [
          {
            mark: { type: 'rule', strokeWidth: 2, color: SERIES_COLORS[0] },
            encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } },
          },
          {
            mark: { type: 'tick', orient: 'horizontal', size: 12, thickness: 2, color: SERIES_COLORS[0] },
            encoding: { x, y: { field: 'lo', type: 'quantitative' } },
          },
          {
            mark: { type: 'tick', orient: 'horizontal', size: 12, thickness: 2, color: SERIES_COLORS[0] },
            encoding: { x, y: { field: 'hi', type: 'quantitative' } },
          },
          {
            mark: { type: 'line', strokeWidth: 2, color: SERIES_COLORS[0], point: { filled: true, size: 60 } },
            encoding: { x, y: { field: 'mean', type: 'quantitative' } },
          },
          {
            mark: { type: 'text', dy: -14, fontSize: 11, color: '#333' },
            encoding: {
              x,
              y: { field: 'hi', type: 'quantitative' },
              text: { field: 'mean', type: 'quantitative', format: '.1%' },
            },
          },
        ],
      },
    ],
    encoding: {
      y: {
        type: 'quantitative',
        title: how(advice),
        scale: { domain: yAxis.domain, nice: false, zero: false },
        axis: { values: yAxis.values, format: yAxis.format },
      },
    },
  } as unknown as TopLevelSpec;
}

export async function renderAdviceChart(advice: Advice): Promise<RenderedChart> {
  return renderChart(adviceChartSpec(advice));
}

/** Renders the learning curve and writes it atomically as PNG (or SVG when the file name ends in .svg). */
export async function writeAdvicePlot(file: string, advice: Advice): Promise<string> {
  const chart = await renderAdviceChart(advice);
  try {
    writeFileAtomicSync(file, file.toLowerCase().endsWith('.svg') ? chart.svg : chart.png);
  } catch (e) {
    throw new ConvfeatError(
      `Cannot write the learning-curve plot to ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); choose a writable path.`,
    );
  }
  return file;
}

/** The curve as an aligned table, then the recommendation. */
export function formatAdvice(advice: Advice): string {
  const head = `${'fraction'.padStart(8)}  ${'images'.padStart(7)}  ${'min/class'.padStart(9)}  ${how(advice)}`;
  const rows = advice.points.map(
    (p) =>
      `${`${(100 * p.fraction).toFixed(0)} %`.padStart(8)}  ${String(p.trainSize).padStart(7)}  ${String(p.minPerClass).padStart(9)}  ${(100 * p.mean).toFixed(2)} % ± ${(100 * p.std).toFixed(2)}`,
  );
  const setup = `${advice.solver}, C = ${advice.C === null ? 'chosen per subset' : formatC(advice.C)}, ${advice.points[0]?.accuracies.length ?? 0} seeds, ${advice.seconds.toFixed(1)} s`;
  return [`Learning curve (${setup})`, head, ...rows, '', ...advice.lines].join('\n');
}
