/**
 * Builds issue 6's comparison tables from the JSON summaries under bench/results/ (each written by the script that
 * measured it) and prints them as Markdown; with --write FILE it replaces the text between
 * `<!-- compare:begin -->` and `<!-- compare:end -->` in FILE (bench/README.md), so the README always shows what the
 * summaries say. A missing summary is named in the output instead of its rows.
 *
 * Usage: node <compiled>/bench/compare/table.js [--results DIR] [--write bench/README.md]
 */
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from '../extract/common';

interface ConvfeatSolver {
  trainableParameters: number;
  testAccuracy: number;
  testCorrect: number;
  testImages: number;
  trainWallSeconds: number;
  extractSeconds: number;
  fitSeconds: number;
  inferenceMsPerImage: number;
}
interface ConvfeatSummary {
  date: string;
  machine: string;
  limitPerClass: number | null;
  solvers: Record<string, ConvfeatSolver>;
}
interface FinetuneSummary {
  variant: string;
  trainable_parameters: number;
  epochs_requested: number;
  epochs_run: number;
  stopped_early: boolean;
  train_wall_seconds: number;
  best_epoch: number;
  test_accuracy: number;
  inference_ms_per_image: number;
  inference_end_to_end_ms_per_image: number;
  images: { test: number };
  limit_per_class: number | null;
  machine: { device: string; gpu: string | null; torch: string; cpu_count: number };
  date: string;
}
interface TimingSummary {
  device: string;
  threads: number;
  torch: string;
  variants: Record<string, { train_ms_per_image: number; eval_ms_per_image: number; epoch_seconds: number }>;
}
interface PeersSummary {
  date: string;
  machine: string;
  photos: number;
  batch: number;
  threads: number;
  repetitions: number;
  imagesPerSecond: Record<'raw' | 'convfeat' | 'transformers', number>;
  vsRaw: Record<'convfeat' | 'transformers', number>;
  convfeatOverTransformers: number;
  agreement: { maxAbs: number; meanCosine: number; minCosine: number };
  probe: Record<
    'convfeat' | 'transformers',
    { testAccuracy: number; testCorrect: number; testImages: number; C: number }
  > | null;
}

const VARIANT_LABEL: Record<string, string> = {
  head: 'fine-tune (a) head only',
  stage5: 'fine-tune (b) last residual stage + head',
  full: 'fine-tune (c) whole network',
};

function read<T>(file: string, missing: string[]): T | undefined {
  if (!fs.existsSync(file)) {
    missing.push(file);
    return undefined;
  }
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

/** "2-core CPU (AMD EPYC)" from a machineLine() string. */
function cpuOf(machine: string): string {
  const m = /(\d+) cores \(([^)]*)\)/.exec(machine);
  return m ? `${m[1]}-core CPU (${m[2]})` : 'CPU';
}

const pct = (x: number) => `${(100 * x).toFixed(2)} %`;
const int = (x: number) => x.toLocaleString('en-US');
const secs = (s: number) =>
  s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 120 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(1)} s`;

export function buildTables(resultsDir: string): string {
  const missing: string[] = [];
  const lines: string[] = [];
  const convfeat = read<ConvfeatSummary>(path.join(resultsDir, 'convfeat-mini.json'), missing);
  const finetune = ['head', 'stage5', 'full']
    .map((v) => read<FinetuneSummary>(path.join(resultsDir, 'finetune-gpu', `finetune-${v}.json`), missing))
    .filter((s): s is FinetuneSummary => s !== undefined);
  // The same recipe on this CPU, time-capped (only head fits a sensible budget): an optional extra row.
  const cpuFile = path.join(resultsDir, 'finetune-cpu', 'finetune-head.json');
  if (fs.existsSync(cpuFile)) finetune.push(JSON.parse(fs.readFileSync(cpuFile, 'utf8')) as FinetuneSummary);
  const timing = read<TimingSummary>(path.join(resultsDir, 'finetune-cpu-timing.json'), missing);
  const peers = read<PeersSummary>(path.join(resultsDir, 'peers-extract.json'), missing);

  lines.push('| approach | machine | trainable parameters | test accuracy | train wall time | inference per image |');
  lines.push('|---|---|---:|---:|---:|---:|');
  if (convfeat) {
    for (const [solver, s] of Object.entries(convfeat.solvers)) {
      lines.push(
        `| **convfeat \`${solver}\`** (frozen ResNet50 + linear head) | ${cpuOf(convfeat.machine)} | ${int(s.trainableParameters)} | **${pct(s.testAccuracy)}** (${s.testCorrect}/${s.testImages}) | ${secs(s.trainWallSeconds)} (extract ${secs(s.extractSeconds)} + fit ${secs(s.fitSeconds)}) | ${s.inferenceMsPerImage.toFixed(1)} ms (end to end) |`,
      );
    }
  }
  for (const s of finetune) {
    const epochs = s.stopped_early
      ? `${s.epochs_run} of ${s.epochs_requested} epochs, STOPPED EARLY`
      : `${s.epochs_run} epochs`;
    const gpu = s.machine.gpu ?? `${s.machine.cpu_count}-core CPU`;
    const testImages = s.images.test;
    lines.push(
      `| ${VARIANT_LABEL[s.variant] ?? s.variant} (${epochs}, best val epoch ${s.best_epoch}) | ${gpu} | ${int(s.trainable_parameters)} | ${pct(s.test_accuracy)} (${Math.round(s.test_accuracy * testImages)}/${testImages}) | ${secs(s.train_wall_seconds)} | ${s.inference_ms_per_image.toFixed(1)} ms forward, ${s.inference_end_to_end_ms_per_image.toFixed(1)} ms end to end |`,
    );
  }
  if (timing) {
    for (const [variant, t] of Object.entries(timing.variants)) {
      lines.push(
        `| ${VARIANT_LABEL[variant] ?? variant}, this CPU, model compute only (estimate: no decoding or augmentation) | ${timing.threads}-thread CPU | | not run | ≈ ${secs(25 * t.epoch_seconds)} for 25 epochs (${secs(t.epoch_seconds)}/epoch) | ${t.eval_ms_per_image.toFixed(0)} ms forward |`,
      );
    }
  }
  lines.push('| reference: the original demonstration, fine-tuned ResNet18 | GPU | 11.2 M | 97 % | | |');

  if (peers) {
    lines.push('');
    lines.push(
      `Extraction on the same ResNet50 ONNX and the same ${peers.photos} photos (batch ${peers.batch}, ${peers.threads} onnxruntime threads, ${peers.repetitions} repetitions, ratios are medians of per-repetition ratios; ${peers.date.slice(0, 10)}):`,
    );
    lines.push('');
    lines.push('| pipeline | images/s (median) | vs raw onnxruntime loop | linear-probe test accuracy |');
    lines.push('|---|---:|---:|---:|');
    const probe = (k: 'convfeat' | 'transformers') =>
      peers.probe
        ? `${pct(peers.probe[k].testAccuracy)} (${peers.probe[k].testCorrect}/${peers.probe[k].testImages})`
        : 'not run';
    lines.push(
      `| raw onnxruntime \`session.run\` loop over pre-decoded tensors (the limit) | ${peers.imagesPerSecond.raw.toFixed(1)} | 1.00 | |`,
    );
    lines.push(
      `| convfeat \`extract\` (fresh cache) | ${peers.imagesPerSecond.convfeat.toFixed(1)} | ${peers.vsRaw.convfeat.toFixed(2)} | ${probe('convfeat')} |`,
    );
    lines.push(
      `| transformers.js \`image-feature-extraction\` | ${peers.imagesPerSecond.transformers.toFixed(1)} | ${peers.vsRaw.transformers.toFixed(2)} | ${probe('transformers')} |`,
    );
    lines.push('');
    lines.push(
      `convfeat / transformers.js throughput: **${peers.convfeatOverTransformers.toFixed(2)}×**. Their embeddings of the same photos agree to cosine ${peers.agreement.meanCosine.toFixed(4)} on average (lowest ${peers.agreement.minCosine.toFixed(4)}, max |Δ| ${peers.agreement.maxAbs.toFixed(2)}): the same network and normalisation, different resizing. Machine: ${peers.machine}.`,
    );
  }
  if (missing.length > 0) {
    lines.push('');
    const shown = missing.map((m) => `\`${path.relative(resultsDir, m)}\``).join(', ');
    lines.push(`Not measured yet (no summary under ${path.relative(REPO_ROOT, resultsDir) || '.'}): ${shown}.`);
  }
  return lines.join('\n');
}

function main(): void {
  const i = process.argv.indexOf('--results');
  const resultsDir = i >= 0 ? path.resolve(process.argv[i + 1]!) : path.join(REPO_ROOT, 'bench', 'results');
  const tables = buildTables(resultsDir);
  console.log(tables);
  const w = process.argv.indexOf('--write');
  if (w >= 0) {
    const file = path.resolve(process.argv[w + 1]!);
    const text = fs.readFileSync(file, 'utf8');
    const begin = '<!-- compare:begin -->';
    const end = '<!-- compare:end -->';
    const a = text.indexOf(begin);
    const b = text.indexOf(end);
    if (a < 0 || b < a) throw new Error(`${file} has no ${begin} … ${end} block to replace`);
    fs.writeFileSync(file, `${text.slice(0, a + begin.length)}\n${tables}\n${text.slice(b)}`);
    console.log(`updated ${file}`);
  }
}

if (require.main === module) main();
