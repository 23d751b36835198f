/**
 * Pictures from declarative specs: a Vega-Lite spec is compiled to Vega, rendered headless to SVG (no canvas, no
 * browser), and the SVG is rasterised by sharp (librsvg) at twice its size so text stays crisp on high-DPI screens.
 */
import sharp from 'sharp';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export type { TopLevelSpec };

export interface RenderedChart {
  svg: string;
  png: Buffer;
  /** PNG size in pixels. */
  width: number;
  height: number;
}

/** Shared look: one sans-serif font that librsvg finds on any Linux (DejaVu/Liberation/Arial fall back in order). */
export const CHART_FONT = 'DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif';

export const CHART_CONFIG = {
  font: CHART_FONT,
  background: 'white',
  padding: 12,
  view: { stroke: '#bbb' },
  axis: { labelFontSize: 12, titleFontSize: 13, titleFontWeight: 'normal', gridColor: '#e6e6e6' },
  legend: { labelFontSize: 12, titleFontSize: 12, titleFontWeight: 'normal' },
  title: { fontSize: 15, fontWeight: 'bold', anchor: 'start', offset: 10 },
  header: { labelFontSize: 13, titleFontSize: 13 },
} as const;

/** Series colours (Tableau 10, colour-blind tolerant for two or three series). */
export const SERIES_COLORS = ['#4c78a8', '#f58518', '#54a24b', '#e45756'];

/** The headless Vega view of a spec with the shared look; callers finalize() it. Tests read its scenegraph. */
export function chartView(spec: TopLevelSpec): vega.View {
  const withConfig = { ...spec, config: { ...CHART_CONFIG, ...(spec.config ?? {}) } } as TopLevelSpec;
  return new vega.View(vega.parse(compile(withConfig).spec), { renderer: 'none' });
}

/** Renders a Vega-Lite spec to SVG, and the SVG to PNG at `pixelRatio` × its CSS size. */
export async function renderChart(spec: TopLevelSpec, pixelRatio = 2): Promise<RenderedChart> {
  const view = chartView(spec);
  try {
    const svg = await view.toSVG();
    return { svg, ...(await rasteriseSvg(svg, pixelRatio)) };
  } finally {
    view.finalize();
  }
}

/** SVG text → PNG buffer; librsvg renders at 72 dpi for scale 1, so density 72·ratio scales the picture by ratio. */
export async function rasteriseSvg(
  svg: string,
  pixelRatio = 2,
): Promise<{ png: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(Buffer.from(svg, 'utf8'), { density: 72 * pixelRatio })
    .flatten({ background: '#ffffff' })
    .png({ compressionLevel: 9 })
    .toBuffer({ resolveWithObject: true });
  return { png: data, width: info.width, height: info.height };
}

/** A PNG that says, in words, why a picture is missing (so a report never has a broken image). */
export async function messageChart(title: string, message: string): Promise<RenderedChart> {
  return renderChart({
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 480,
    height: 80,
    data: { values: [{ message }] },
    mark: { type: 'text', fontSize: 14, color: '#555', align: 'center', baseline: 'middle' },
    encoding: { text: { field: 'message', type: 'nominal' } },
    config: { view: { stroke: null } },
  } as TopLevelSpec);
}

/** An axis whose tick values and labels are chosen together: every label distinct and exact at its position. */
export interface PercentAxis {
  domain: [number, number];
  values: number[];
  /** d3-format string with just enough decimals for the step (0.5 % steps get one decimal). */
  format: string;
}

/**
 * Ticks for a share in [0, 1] shown as percent. Vega picks ticks on its own grid and formats them with a fixed number
 * of decimals, so a 0.5 % grid labelled with '.0%' reads "100 %, 100 %, 99 %, 99 %" and a 99.4 % point sits under a
 * line labelled 100 %. Here the step is a 1-2-5 multiple of a power of ten, the domain is widened to whole steps, and
 * the format shows as many decimals as the step needs, no more.
 */
export function percentAxis(lo: number, hi: number, targetTicks = 6): PercentAxis {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new RangeError('percentAxis needs finite bounds');
  lo = Math.max(0, Math.min(lo, hi));
  hi = Math.min(1, Math.max(lo, hi));
  // A flat series (every point 100 %) still gets a readable span below it.
  if (hi - lo < 0.002) lo = Math.max(0, hi - 0.01);
  if (hi - lo < 0.002) hi = Math.min(1, lo + 0.01);
  const raw = (hi - lo) / Math.max(1, targetTicks - 1);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw * 0.999) ?? 10 * mag;
  const round = (v: number): number => Number(v.toFixed(10));
  const first = round(Math.floor(lo / step + 1e-9) * step);
  const last = round(Math.min(1, Math.ceil(hi / step - 1e-9) * step));
  const values: number[] = [];
  for (let v = first; v <= last + step * 1e-6; v = round(v + step)) values.push(v);
  const decimals = Math.max(0, Math.ceil(-Math.log10(step * 100) - 1e-9));
  return { domain: [first, Math.max(last, values[values.length - 1] ?? last)], values, format: `.${decimals}%` };
}
