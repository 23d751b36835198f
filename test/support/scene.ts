/**
 * What a rendered chart says, read from Vega's scenegraph (the same scene that becomes the SVG and the PNG): for each
 * axis its title and its tick labels with the value each label stands at, for each legend its entries, each tagged
 * with the panel (concat group) it belongs to.
 */
import { chartView, type TopLevelSpec } from '../../src/report/charts';

export interface AxisText {
  panel: string;
  title: string;
  labels: Array<{ text: string; value: unknown }>;
}
export interface LegendText {
  panel: string;
  title: string;
  labels: string[];
}
export interface SceneText {
  axes: AxisText[];
  legends: LegendText[];
  titles: string[];
}

type SceneNode = {
  marktype?: string;
  role?: string;
  name?: string;
  items?: SceneNode[];
  text?: string | string[];
  datum?: { value?: unknown };
};

const textOf = (t: string | string[] | undefined): string => (Array.isArray(t) ? t.join(' ') : (t ?? ''));

function collect(node: SceneNode, role: string, out: SceneNode[]): void {
  if (node.marktype && node.role === role) out.push(...(node.items ?? []));
  for (const it of node.items ?? []) collect(it, role, out);
}

export async function sceneText(spec: TopLevelSpec): Promise<SceneText> {
  const view = chartView(spec);
  try {
    await view.runAsync();
    const result: SceneText = { axes: [], legends: [], titles: [] };
    const walk = (node: SceneNode, panel: string): void => {
      if (node.marktype === 'group' && node.name && /concat_\d+_group/.test(node.name)) panel = node.name;
      if (node.marktype && node.role === 'axis') {
        for (const axis of node.items ?? []) {
          const labels: SceneNode[] = [];
          const titles: SceneNode[] = [];
          collect(axis, 'axis-label', labels);
          collect(axis, 'axis-title', titles);
          // Vega-Lite draws gridlines as a separate axis with neither labels nor title: not an axis a reader reads.
          if (labels.length === 0 && titles.length === 0) continue;
          result.axes.push({
            panel,
            title: titles.map((t) => textOf(t.text)).join(' '),
            labels: labels.map((l) => ({ text: textOf(l.text), value: l.datum?.value })),
          });
        }
        return;
      }
      if (node.marktype && node.role === 'legend') {
        for (const legend of node.items ?? []) {
          const labels: SceneNode[] = [];
          const titles: SceneNode[] = [];
          collect(legend, 'legend-label', labels);
          collect(legend, 'legend-title', titles);
          result.legends.push({
            panel,
            title: titles.map((t) => textOf(t.text)).join(' '),
            labels: labels.map((l) => textOf(l.text)),
          });
        }
        return;
      }
      if (node.marktype && (node.role === 'title-text' || node.role === 'title-subtitle'))
        for (const t of node.items ?? []) result.titles.push(textOf(t.text));
      for (const it of node.items ?? []) walk(it, panel);
    };
    walk((view.scenegraph() as unknown as { root: SceneNode }).root, '');
    return result;
  } finally {
    view.finalize();
  }
}

/** The number a tick label shows ("99.5%" → 0.995, "0.001" → 0.001) and half a unit of its last digit. */
export function parseTick(text: string): { value: number; halfUnit: number } | null {
  const m = /^(-?\d+(?:\.(\d+))?)(%?)$/.exec(text.replace(/,/g, '').trim());
  if (!m) return null;
  const decimals = m[2]?.length ?? 0;
  const scale = m[3] ? 0.01 : 1;
  return { value: Number(m[1]) * scale, halfUnit: 0.5 * 10 ** -decimals * scale };
}
