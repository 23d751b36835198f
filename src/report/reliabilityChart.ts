/**
 * The reliability diagram (Guo et al. 2017, figure 1): for each bin of top-1 confidence, the accuracy of the images
 * in it (bars) against the diagonal of perfect calibration, with the mean confidence of the bin marked and its image
 * count written above. A second panel shows how many images fall in each bin, since on an accurate classifier almost
 * all of them sit in the last bin and the other bars rest on a handful of images.
 */
import type { CalibrationSummary } from './calibration';
import { renderChart, SERIES_COLORS, type RenderedChart, type TopLevelSpec } from './charts';

const SERIES = ['accuracy', 'mean confidence', 'perfect calibration'];
const COLORS = [SERIES_COLORS[0], SERIES_COLORS[1], '#888888'];
const TICKS = { values: [0, 0.2, 0.4, 0.6, 0.8, 1], format: '.0%' };

export function reliabilitySpec(c: CalibrationSummary, title = 'Reliability diagram'): TopLevelSpec {
  const bins = c.table
    .filter((b) => b.count > 0)
    .map((b) => ({
      lo: b.lo,
      hi: b.hi,
      mid: (b.lo + b.hi) / 2,
      zero: 0,
      count: b.count,
      acc: b.accuracy,
      conf: b.confidence,
    }));
  const color = { scale: { domain: SERIES, range: COLORS }, title: null };
  const x = {
    field: 'lo',
    type: 'quantitative',
    title: 'Top-1 confidence',
    scale: { domain: [0, 1], nice: false },
    axis: TICKS,
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: title,
      // Two short lines: headless Vega estimates text width generously, and one long line would widen the picture.
      subtitle: [
        `ECE ${(100 * c.ece).toFixed(2)} % (${c.bins} equal-width bins of top-1 confidence)`,
        `mean confidence ${(100 * c.meanConfidence).toFixed(2)} % · accuracy ${(100 * c.accuracy).toFixed(2)} %`,
      ],
      subtitleColor: '#555',
    },
    vconcat: [
      {
        width: 420,
        height: 300,
        layer: [
          {
            data: {
              values: [
                { x: 0, y: 0 },
                { x: 1, y: 1 },
              ],
            },
            mark: { type: 'line', strokeDash: [5, 4], strokeWidth: 1.5 },
            encoding: {
              x: {
                field: 'x',
                type: 'quantitative',
                scale: { domain: [0, 1], nice: false },
                title: 'Top-1 confidence',
                axis: TICKS,
              },
              y: {
                field: 'y',
                type: 'quantitative',
                scale: { domain: [0, 1], nice: false },
                title: 'Accuracy',
                axis: TICKS,
              },
              color: { datum: SERIES[2], ...color },
            },
          },
          {
            data: { values: bins },
            layer: [
              {
                mark: { type: 'rect', opacity: 0.85, stroke: 'white', strokeWidth: 1 },
                encoding: {
                  x,
                  x2: { field: 'hi' },
                  y: { field: 'zero', type: 'quantitative' },
                  y2: { field: 'acc' },
                  color: { datum: SERIES[0], ...color },
                  tooltip: [
                    { field: 'lo', title: 'from', format: '.1%' },
                    { field: 'hi', title: 'to', format: '.1%' },
                    { field: 'count', title: 'images' },
                    { field: 'acc', title: 'accuracy', format: '.2%' },
                    { field: 'conf', title: 'mean confidence', format: '.2%' },
                  ],
                },
              },
              {
                mark: { type: 'point', shape: 'diamond', filled: true, size: 60 },
                encoding: {
                  x: { field: 'conf', type: 'quantitative' },
                  y: { field: 'conf', type: 'quantitative' },
                  color: { datum: SERIES[1], ...color },
                },
              },
            ],
          },
        ],
      },
      {
        width: 420,
        height: 90,
        data: { values: bins },
        title: { text: 'Images per bin', fontSize: 12, fontWeight: 'normal' },
        layer: [
          {
            mark: { type: 'rect', color: '#9db3cc', stroke: 'white', strokeWidth: 1 },
            encoding: {
              x,
              x2: { field: 'hi' },
              y: { field: 'zero', type: 'quantitative' },
              y2: { field: 'count' },
            },
          },
          {
            mark: { type: 'text', dy: -7, fontSize: 10, color: '#333' },
            encoding: {
              x: { field: 'mid', type: 'quantitative' },
              y: { field: 'count', type: 'quantitative', title: 'Images', axis: { tickMinStep: 1, format: 'd' } },
              text: { field: 'count', type: 'quantitative' },
            },
          },
        ],
      },
    ],
    config: { legend: { orient: 'bottom', direction: 'horizontal', labelLimit: 0 } },
  } as unknown as TopLevelSpec;
}

export async function renderReliability(c: CalibrationSummary, title?: string): Promise<RenderedChart> {
  return renderChart(reliabilitySpec(c, title));
}
