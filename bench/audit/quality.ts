/**
 * How well `convfeat audit` finds planted problems, and the measurement behind its near-duplicate threshold.
 *
 *   node bench/out/js/bench/audit/quality.js --clean-cache C [--work DIR] [--per-class train=N,val=N,test=N]
 *
 * 1. Plants 20 near-duplicate copies of train photos into test (re-encoded, resized to 75 %, 6 % cropped), moves 20
 *    train photos to a wrong class and adds 10 junk images (solid colours, noise) in a copy of Mini Natural Images
 *    under --work (symlinks; the data is never copied into the repository).
 * 2. Extracts the planted copy into a copy of the clean cache (only the 30 new files cost inference).
 * 3. Audits both caches and scores: planted duplicates found, false pairs on the clean set (every clean pair is
 *    listed for a person to look at), planted label errors in the top 40, junk flagged as outliers.
 * 4. The threshold measurement: cosine of each planted copy to its original vs each clean image's most similar
 *    different photo of its class.
 * Writes bench/results/audit-mini.json.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { auditCache, type AuditResult } from '../../src/audit/audit';
import { normalizeRows, selfSearch } from '../../src/audit/search';
import { loadSplit } from '../../src/cache';
import { DATA_ROOT, REPO_ROOT, cliExtractArgs, machineLine } from '../extract/common';
import { plantProblems } from './plant';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function quantiles(v: number[], qs: number[]): Record<string, number> {
  const s = [...v].sort((a, b) => a - b);
  return Object.fromEntries(
    qs.map((q) => [`p${q * 100}`, Number(s[Math.min(s.length - 1, Math.floor(q * s.length))]!.toFixed(4))]),
  );
}

function histogram(v: number[], lo: number, hi: number, step: number): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (let x = lo; x < hi - 1e-9; x += step) {
    const a = Number(x.toFixed(3));
    const b = Number((x + step).toFixed(3));
    out.push([`${a.toFixed(2)}–${b.toFixed(2)}`, v.filter((s) => s >= a && s < b).length]);
  }
  return out;
}

/** Each row's highest cosine to a different photo (other hash) of its own class. */
function maxSameClassSimilarity(cache: string): number[] {
  const d = loadSplit(cache);
  const Xn = normalizeRows(d.X, d.dim);
  const { neighbours } = selfSearch(Xn, d.dim, {
    k: 1,
    allowed: (i, j) => d.y[i] === d.y[j] && d.hashes[i] !== d.hashes[j],
  });
  return Array.from(neighbours.scores);
}

async function main(): Promise<void> {
  const cleanCache = arg('clean-cache');
  if (!cleanCache || !fs.existsSync(path.join(cleanCache, 'dataset.jsonl'))) {
    process.stderr.write('quality: pass --clean-cache DIR, a completed extract of Mini Natural Images.\n');
    process.exit(2);
  }
  const work = path.resolve(arg('work') ?? fs.mkdtempSync(path.join(os.tmpdir(), 'convfeat-audit-bench-')));
  const data = path.join(work, 'planted');
  const cache = path.join(work, 'planted-cache');
  const truthFile = path.join(work, 'truth.json');
  if (!fs.existsSync(truthFile)) {
    fs.rmSync(data, { recursive: true, force: true });
    const truth = await plantProblems({ source: DATA_ROOT, out: data, seed: 7 });
    fs.writeFileSync(truthFile, JSON.stringify(truth, null, 1));
  }
  const truth = JSON.parse(fs.readFileSync(truthFile, 'utf8')) as Awaited<ReturnType<typeof plantProblems>>;
  if (!fs.existsSync(path.join(cache, 'dataset.jsonl'))) {
    fs.mkdirSync(cache, { recursive: true });
    for (const f of ['cache.json', 'index.jsonl']) fs.copyFileSync(path.join(cleanCache, f), path.join(cache, f));
    fs.cpSync(path.join(cleanCache, 'shards'), path.join(cache, 'shards'), { recursive: true });
    execFileSync(process.execPath, cliExtractArgs(data, cache, ['--quiet']), { stdio: 'inherit' });
  }

  const t0 = Date.now();
  const clean = await auditCache(cleanCache);
  const cleanSeconds = (Date.now() - t0) / 1000;
  const t1 = Date.now();
  const planted = await auditCache(cache);
  const plantedSeconds = (Date.now() - t1) / 1000;

  const rel = (r: AuditResult, i: number): string => r.rows[i]!.relPath;
  const pairKey = (a: string, b: string): string => [a, b].sort().join(' ⇄ ');
  const found = new Set(planted.duplicates.map((p) => pairKey(rel(planted, p.a), rel(planted, p.b))));
  const dupHits = truth.duplicates.filter((d) => found.has(pairKey(d.copy, d.original)));
  const plantedCopies = new Set(truth.duplicates.map((d) => d.copy));
  const otherPairsPlanted = planted.duplicates.filter(
    (p) => !plantedCopies.has(rel(planted, p.a)) && !plantedCopies.has(rel(planted, p.b)),
  );
  const errorSet = new Set(truth.labelErrors.map((e) => e.relPath));
  const top40 = planted.labelIssues.slice(0, 40).map((i) => rel(planted, i.row));
  const errHits = top40.filter((r) => errorSet.has(r));
  const suggestedRight = planted.labelIssues.filter((i) => {
    const t = truth.labelErrors.find((e) => e.relPath === rel(planted, i.row));
    return t && planted.classes[i.suggested] === t.trueLabel;
  }).length;
  const junkSet = new Set(truth.junk.map((j) => j.relPath));
  const junkFlagged = planted.outliers.filter((o) => junkSet.has(rel(planted, o.row))).map((o) => rel(planted, o.row));
  const junkInLabelIssues = planted.labelIssues.filter((i) => junkSet.has(rel(planted, i.row))).length;

  // Threshold measurement.
  const pd = loadSplit(cache);
  const Xn = normalizeRows(pd.X, pd.dim);
  const idx = new Map(pd.relPaths.map((r, i) => [r, i]));
  const cos = (a: string, b: string): number => {
    const i = idx.get(a)!;
    const j = idx.get(b)!;
    let s = 0;
    for (let t = 0; t < pd.dim; t++) s += Xn[i * pd.dim + t]! * Xn[j * pd.dim + t]!;
    return s;
  };
  const copySims = truth.duplicates.map((d) => ({ kind: d.kind, score: Number(cos(d.copy, d.original).toFixed(4)) }));
  const cleanMax = maxSameClassSimilarity(cleanCache);

  const result = {
    machine: machineLine(),
    data: 'Mini Natural Images (3,626 photos) + 20 planted copies in test, 20 train photos moved to a wrong class, 10 junk',
    nearThreshold: planted.nearThreshold,
    pixelThreshold: planted.pixelThreshold,
    auditSeconds: { clean: cleanSeconds, planted: plantedSeconds },
    planted: {
      duplicatesFound: dupHits.length,
      duplicatesPlanted: truth.duplicates.length,
      duplicatesMissed: truth.duplicates.filter((d) => !dupHits.includes(d)),
      labelErrorsInTop40: errHits.length,
      labelErrorsPlanted: truth.labelErrors.length,
      labelIssuesFlagged: planted.labelIssues.length,
      labelErrorsFlaggedAnywhere: planted.labelIssues.filter((i) => errorSet.has(rel(planted, i.row))).length,
      suggestedLabelRight: suggestedRight,
      junkFlagged: junkFlagged.length,
      junkPlanted: truth.junk.length,
      junkAlsoLabelIssues: junkInLabelIssues,
      outliersFlagged: planted.outliers.length,
      pairsNotPlanted: otherPairsPlanted.length,
      similarNotDuplicate: planted.similarNotDuplicate,
      outliers: planted.outliers.map((o) => ({
        relPath: rel(planted, o.row),
        junk: junkSet.has(rel(planted, o.row)),
        z: Number(o.z.toFixed(2)),
      })),
      labelIssueRanks: planted.labelIssues.slice(0, 40).map((i) => ({
        relPath: rel(planted, i.row),
        planted: errorSet.has(rel(planted, i.row)),
        p: Number(i.selfConfidence.toFixed(4)),
      })),
    },
    clean: {
      similarNotDuplicate: clean.similarNotDuplicate,
      pairs: clean.duplicates.map((p) => ({
        a: rel(clean, p.a),
        b: rel(clean, p.b),
        score: Number(p.score.toFixed(4)),
        pixel: p.pixel === null ? null : Number(p.pixel.toFixed(4)),
        crossSplit: p.crossSplit,
      })),
      leakage: clean.leakage,
      labelIssues: clean.labelIssues.map((i) => ({
        relPath: rel(clean, i.row),
        given: clean.rows[i.row]!.label,
        suggested: clean.classes[i.suggested],
        selfConfidence: Number(i.selfConfidence.toFixed(4)),
      })),
      outliers: clean.outliers.map((o) => ({
        relPath: rel(clean, o.row),
        score: Number(o.score.toFixed(4)),
        z: Number(o.z.toFixed(2)),
      })),
    },
    threshold: {
      plantedCopyToOriginal: copySims,
      plantedCopyMin: Math.min(...copySims.map((c) => c.score)),
      cleanMaxSameClassOtherPhoto: quantiles(cleanMax, [0.5, 0.9, 0.99, 0.999, 1]),
      cleanMaxHistogram: histogram(cleanMax, 0.5, 1.0001, 0.05),
    },
  };
  const out = path.join(REPO_ROOT, 'bench', 'results', 'audit-mini.json');
  fs.writeFileSync(out, JSON.stringify(result, null, 1) + '\n');
  process.stdout.write(
    JSON.stringify(
      { ...result, clean: { ...result.clean, labelIssues: result.clean.labelIssues.slice(0, 15) } },
      null,
      1,
    ) + '\n',
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`quality: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
