/**
 * Every picture convfeat writes, read back as a user reads it: each axis's tick labels are distinct and each label
 * is true at its position (a "100%" tick sits at 100 %, not at 99.5 %), and each legend lists exactly the series of
 * its own panel (issue 12: curves.png's only legend sat under the C panel, whose single line was read as "train").
 * Read from Vega's scenegraph, then checked in the SVG text and the PNG that are written.
 */
import sharp from 'sharp';
import { LinearClassifier } from '../../src/linear';
import { toEmbeddings } from '../../src/util/embeddings';
import type { Advice } from '../../src/report/advise';
import { adviceChartSpec } from '../../src/report/adviceChart';
import { calibrationSummary } from '../../src/report/calibration';
import { percentAxis, renderChart, type TopLevelSpec } from '../../src/report/charts';
import { confusionChartSpec } from '../../src/report/confusionChart';
import { curvesSpec } from '../../src/report/curves';
import { reliabilitySpec } from '../../src/report/reliabilityChart';
import { blobs } from '../linear/helpers';
import { parseTick, sceneText, type SceneText } from '../support/scene';

const CLASSES = ['airplane', 'car', 'cat', 'dog', 'flower', 'fruit', 'motorbike', 'person'];

/** Distinct labels on every axis, and every numeric label within half a unit of its last digit of its value. */
function expectTruthfulAxes(scene: SceneText): void {
  expect(scene.axes.length).toBeGreaterThan(0);
  for (const axis of scene.axes) {
    const texts = axis.labels.map((l) => l.text);
    expect({ axis: axis.title, texts, distinct: new Set(texts).size }).toEqual({
      axis: axis.title,
      texts,
      distinct: texts.length,
    });
    expect(texts.length).toBeGreaterThanOrEqual(2); // one lone label tells nothing about the scale
    for (const { text, value } of axis.labels) {
      if (typeof value === 'number') {
        const shown = parseTick(text);
        expect({ axis: axis.title, text, parsed: shown !== null }).toEqual({ axis: axis.title, text, parsed: true });
        expect(Math.abs(shown!.value - value)).toBeLessThanOrEqual(shown!.halfUnit * (1 + 1e-9) + 1e-12);
      } else {
        expect(text).toBe(String(value)); // a class name axis shows the class names
      }
    }
  }
}

/** Renders the spec and checks the SVG holds every label and the PNG decodes at a sane size. */
async function expectRendered(spec: TopLevelSpec, scene: SceneText): Promise<void> {
  const chart = await renderChart(spec);
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  for (const axis of scene.axes) for (const l of axis.labels) expect(chart.svg).toContain(`>${esc(l.text)}<`);
  for (const legend of scene.legends) for (const l of legend.labels) expect(chart.svg).toContain(`>${esc(l)}<`);
  const meta = await sharp(chart.png).metadata();
  expect(meta.format).toBe('png');
  expect(meta.width).toBeGreaterThan(300);
  expect(meta.width).toBeLessThan(4000);
}

async function fitted(solver: 'svm' | 'softmax'): Promise<LinearClassifier> {
  const train = blobs(240, 12, 4, 31, 1.0, 2);
  const val = blobs(120, 12, 4, 32, 1.0, 2);
  return new LinearClassifier({ solver, scale: 'l2', threads: 1 }).fit(toEmbeddings(train.X, 12), train.y, {
    val: { X: toEmbeddings(val.X, 12), y: val.y },
  });
}

describe('pictures: ticks distinct and true, legends match their series', () => {
  test('percentAxis: steps of 1-2-5, labels with just enough decimals, domain in whole steps', () => {
    expect(percentAxis(0.985, 1)).toEqual({ domain: [0.985, 1], values: [0.985, 0.99, 0.995, 1], format: '.1%' });
    expect(percentAxis(0, 1).format).toBe('.0%');
    // A flat series at 100 % still gets a scale under it.
    expect(percentAxis(1, 1).values.length).toBeGreaterThanOrEqual(3);
  });

  test('advise --plot: the issue case (99.4 % points on a half-percent grid) has distinct, exact y labels', async () => {
    const means = [0.985, 0.991, 0.994, 0.996, 0.999];
    const advice = {
      points: means.map((mean, i) => ({
        fraction: [0.05, 0.1, 0.2, 0.5, 1][i],
        trainSize: [51, 102, 204, 511, 1022][i],
        minPerClass: [5, 10, 20, 50, 100][i],
        accuracies: [mean - 0.002, mean, Math.min(1, mean + 0.002)],
        mean,
        std: 0.002,
      })),
      solver: 'svm',
      C: 0.0015,
      evaluation: { method: 'val', size: 695 },
      classes: CLASSES,
      trainSize: 1022,
      perClass: { min: 100, median: 120, max: 180 },
      seconds: 3,
      slopePerDoubling: 0.3,
      accuracy: 0.999,
      size: 'small',
      domain: 'similar',
      moreData: 'unlikely to help',
      fineTune: 'not needed',
      lines: [],
    } as unknown as Advice;
    const spec = adviceChartSpec(advice);
    const scene = await sceneText(spec);
    expectTruthfulAxes(scene);
    const y = scene.axes.find((a) => /val accuracy/.test(a.title))!;
    expect(y.labels.map((l) => l.text)).toContain('99.5%');
    expect(scene.legends).toEqual([]); // one series: no legend
    await expectRendered(spec, scene);
  });

  test('curves.png for softmax: loss and accuracy panels each carry their own train/val legend, the C panel none', async () => {
    const clf = await fitted('softmax');
    expect(clf.history!.length).toBeGreaterThan(1);
    const spec = curvesSpec(clf)!;
    const scene = await sceneText(spec);
    expectTruthfulAxes(scene);
    const panels = [...new Set(scene.axes.map((a) => a.panel))];
    expect(panels).toHaveLength(3); // loss, accuracy, C search
    const legendPanels = scene.legends.map((l) => l.panel).sort();
    expect(legendPanels).toEqual([panels[0], panels[1]].sort());
    for (const legend of scene.legends) expect(legend.labels).toEqual(['train', 'val']);
    const cPanel = scene.axes.find((a) => /against C|C \(log scale\)/.test(a.title))!.panel;
    expect(scene.legends.some((l) => l.panel === cPanel)).toBe(false);
    await expectRendered(spec, scene);
  });

  test('curves.png for svm: the C search alone, no legend, distinct percent ticks', async () => {
    const clf = await fitted('svm');
    const spec = curvesSpec(clf)!;
    const scene = await sceneText(spec);
    expectTruthfulAxes(scene);
    expect(scene.legends).toEqual([]);
    await expectRendered(spec, scene);
  });

  test('confusion matrix: every class on both axes, the colour legend shows true shares', async () => {
    const K = CLASSES.length;
    const m = new Int32Array(K * K);
    for (let k = 0; k < K; k++) m[k * K + k] = 100 + k;
    m[2 * K + 3] = 6;
    m[3 * K + 2] = 1;
    const spec = confusionChartSpec(m, CLASSES);
    const scene = await sceneText(spec);
    expectTruthfulAxes(scene);
    for (const axis of scene.axes) expect(axis.labels.map((l) => l.text)).toEqual(CLASSES);
    expect(scene.legends).toHaveLength(1);
    await expectRendered(spec, scene);
  });

  test('reliability diagram: percent axes, one legend naming exactly its three series', async () => {
    const clf = await fitted('softmax');
    const test = blobs(200, 12, 4, 33, 1.0, 2);
    const c = calibrationSummary(clf.predictProba(test.X), test.y, 4);
    const spec = reliabilitySpec(c);
    const scene = await sceneText(spec);
    expectTruthfulAxes(scene);
    expect(scene.legends).toHaveLength(1);
    expect([...scene.legends[0].labels].sort()).toEqual(['accuracy', 'mean confidence', 'perfect calibration']);
    expect(scene.titles.join(' ')).toContain(`ECE ${(100 * c.ece).toFixed(2)} %`);
    await expectRendered(spec, scene);
  });
});
