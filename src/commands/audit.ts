/** `convfeat audit`: duplicates and leakage, likely label errors and outliers, from the embeddings already cached. */
import * as path from 'path';
import type { Argv, CommandModule } from 'yargs';
import { auditCache } from '../audit/audit';
import { DEFAULT_NEAR_DUPLICATE_THRESHOLD } from '../audit/duplicates';
import { auditToJson, formatAudit } from '../audit/format';
import { DEFAULT_OUTLIER_Z } from '../audit/outliers';
import { DEFAULT_PIXEL_THRESHOLD } from '../audit/verify';
import { writeAuditReport } from '../audit/writeAudit';
import { loadClassifier } from '../linear';
import { handler, logger, printJson } from './run';
import { withClassifierOption } from './options';

interface AuditArgs {
  cache: string;
  report?: string;
  json?: boolean;
  quiet?: boolean;
  classifier?: string;
  'near-threshold': number;
  verify: boolean;
  'pixel-threshold': number;
  k: number;
  'outlier-z': number;
  folds: number;
  seed: number;
  exact?: boolean;
}

export const auditCommand: CommandModule<object, AuditArgs> = {
  command: 'audit',
  describe: 'Find leaked duplicates, likely label errors and outliers in a cache',
  builder: (y: Argv) =>
    withClassifierOption(
      y
        .option('cache', { type: 'string', demandOption: true, describe: 'Cache directory written by extract' })
        .option('report', {
          type: 'string',
          describe: 'Also write index.html (thumbnails), issues.csv (editable, for --exclude) and audit.json here',
        })
        .option('json', { type: 'boolean', describe: 'Print the findings as JSON' }),
      { required: false },
    )
      .option('near-threshold', {
        type: 'number',
        default: DEFAULT_NEAR_DUPLICATE_THRESHOLD,
        describe:
          'Cosine similarity at or above which two images are near-duplicate candidates (measured: bench/README.md)',
      })
      .option('verify', {
        type: 'boolean',
        default: true,
        describe: 'Confirm near-duplicate candidates by comparing thumbnails (--no-verify: cosine alone decides)',
      })
      .option('pixel-threshold', {
        type: 'number',
        default: DEFAULT_PIXEL_THRESHOLD,
        describe: 'Correlation of 32×32 grey thumbnails at or above which a candidate is the same picture',
      })
      .option('k', { type: 'number', default: 5, describe: 'Nearest neighbours per image for the outlier score' })
      .option('outlier-z', {
        type: 'number',
        default: DEFAULT_OUTLIER_Z,
        describe: 'Robust standard deviations below the class median that make an outlier',
      })
      .option('folds', { type: 'number', default: 5, describe: 'Folds for the out-of-fold label check' })
      .option('seed', { type: 'number', default: 1 })
      .option('exact', {
        type: 'boolean',
        describe: 'Score all pairs exactly instead of through the vector index (used from 20,000 rows on)',
      })
      .option('quiet', { type: 'boolean' }) as unknown as Argv<AuditArgs>,
  handler: handler(async (args: AuditArgs) => {
    const log = logger(args);
    const result = await auditCache(args.cache, {
      nearThreshold: args['near-threshold'],
      verifyPixels: args.verify,
      pixelThreshold: args['pixel-threshold'],
      k: args.k,
      outlierZ: args['outlier-z'],
      folds: args.folds,
      seed: args.seed,
      ...(args.exact ? { exact: true } : {}),
      ...(args.classifier !== undefined ? { classifier: loadClassifier(args.classifier) } : {}),
      log,
    });
    // Findings first: a --report directory that cannot be written must not lose them.
    if (args.json) printJson(auditToJson(result));
    else process.stdout.write(formatAudit(result));
    if (args.report !== undefined) {
      const written = await writeAuditReport(args.report, result);
      log(`report: ${path.join(written.dir, 'index.html')}, editable list: ${path.join(written.dir, 'issues.csv')}`);
    }
  }),
};
