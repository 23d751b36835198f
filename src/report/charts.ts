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

/** Renders a Vega-Lite spec to SVG, and the SVG to PNG at `pixelRatio` × its CSS size. */
export async function renderChart(spec: TopLevelSpec, pixelRatio = 2): Promise<RenderedChart> {
  const withConfig = { ...spec, config: { ...CHART_CONFIG, ...(spec.config ?? {}) } } as TopLevelSpec;
  const compiled = compile(withConfig).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
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
