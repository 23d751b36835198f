/** The audit for people (a terminal summary) and for programs (plain JSON with relPaths instead of row ids). */
import type { AuditResult } from './audit';

const pct = (v: number): string => `${(100 * v).toFixed(2)} %`;

export function auditToJson(r: AuditResult, limit = Infinity): Record<string, unknown> {
  const at = (i: number): Record<string, unknown> => {
    const x = r.rows[i]!;
    return { relPath: x.relPath, path: x.path, split: x.split ?? null, label: x.label ?? null };
  };
  return {
    cache: r.cache,
    model: r.model,
    images: r.rows.length,
    classes: r.classes,
    nearThreshold: r.nearThreshold,
    pixelThreshold: r.pixelThreshold,
    duplicates: {
      similarNotDuplicate: r.similarNotDuplicate,
      pairs: r.duplicates.length,
      crossSplit: r.duplicates.filter((p) => p.crossSplit).length,
      exact: r.duplicates.filter((p) => p.kind === 'exact').length,
      list: r.duplicates.slice(0, limit).map((p) => ({
        kind: p.kind,
        crossSplit: p.crossSplit,
        score: Number(p.score.toFixed(5)),
        pixel: p.pixel === null ? null : Number(p.pixel.toFixed(5)),
        keep: at(p.a),
        copy: at(p.b),
      })),
    },
    leakage: r.leakage,
    leakageNote: r.leakageNote,
    labelIssues: r.labelsSkipped
      ? { skipped: r.labelsSkipped }
      : {
          count: r.labelIssues.length,
          folds: r.labelCheck?.folds,
          C: r.labelCheck?.C,
          thresholds: Object.fromEntries(
            r.classes.map((c, k) => [c, Number((r.labelCheck?.thresholds[k] ?? NaN).toFixed(4))]),
          ),
          list: r.labelIssues.slice(0, limit).map((i) => ({
            ...at(i.row),
            suggested: r.classes[i.suggested],
            selfConfidence: Number(i.selfConfidence.toFixed(5)),
            suggestedConfidence: Number(i.suggestedConfidence.toFixed(5)),
          })),
        },
    outliers: {
      k: r.outlierK,
      zCutoff: r.outlierZ,
      perClass: r.outliersPerClass,
      count: r.outliers.length,
      list: r.outliers.slice(0, limit).map((o) => ({
        ...at(o.row),
        score: Number(o.score.toFixed(4)),
        z: Number(o.z.toFixed(2)),
        classMedian: Number(o.groupMedian.toFixed(4)),
      })),
    },
    seconds: r.seconds,
  };
}

/** The rule that made a pair a duplicate, in words. */
export function duplicateRule(r: AuditResult): string {
  return r.pixelThreshold === null
    ? `same bytes, or cosine ≥ ${r.nearThreshold}`
    : `same bytes, or cosine ≥ ${r.nearThreshold} and 32×32 thumbnails correlating ≥ ${r.pixelThreshold}`;
}

export function formatAudit(r: AuditResult, show = 10): string {
  const out: string[] = [];
  const name = (i: number): string => r.rows[i]!.relPath;
  const cross = r.duplicates.filter((p) => p.crossSplit);
  out.push(
    `audit of ${r.rows.length} images (${r.model}, ${r.dim}-d, ${r.classes.length} classes) in ${r.seconds.toFixed(1)} s`,
  );
  out.push('');
  out.push(
    `duplicates: ${r.duplicates.length} pair${r.duplicates.length === 1 ? '' : 's'} (${duplicateRule(r)}), ${cross.length} across splits (leakage)`,
  );
  if (r.similarNotDuplicate > 0)
    out.push(
      `  (${r.similarNotDuplicate} more pair${r.similarNotDuplicate === 1 ? ' is' : 's are'} similar in content but different pictures; not listed)`,
    );
  for (const p of r.duplicates.slice(0, show))
    out.push(
      `  ${p.crossSplit ? 'LEAK ' : ''}${p.kind === 'exact' ? 'same bytes' : `cos ${p.score.toFixed(3)}`}  ${name(p.a)}  ⇄  ${name(p.b)}`,
    );
  if (r.duplicates.length > show) out.push(`  … ${r.duplicates.length - show} more (--json or --report for all)`);
  if (r.leakage) {
    const l = r.leakage;
    out.push(
      `  ${l.split} accuracy ${pct(l.accuracy)} on ${l.images} images; ${l.cleanedAccuracy === null ? 'every image leaked' : `${pct(l.cleanedAccuracy)} on the ${l.images - l.leaked} without a duplicate in another split`} (${l.classifier})`,
    );
  } else if (r.leakageNote) out.push(`  leakage effect not measured: ${r.leakageNote}`);
  out.push('');
  if (r.labelsSkipped) out.push(`label checks skipped: ${r.labelsSkipped}.`);
  else {
    out.push(
      `likely label errors: ${r.labelIssues.length} (confident learning on ${r.labelCheck!.folds}-fold out-of-fold probabilities), lowest self-confidence first`,
    );
    for (const i of r.labelIssues.slice(0, show))
      out.push(
        `  ${name(i.row)}  given ${r.rows[i.row]!.label}  suggested ${r.classes[i.suggested]} (p ${i.suggestedConfidence.toFixed(2)}, p(given) ${i.selfConfidence.toFixed(2)})`,
      );
    if (r.labelIssues.length > show) out.push(`  … ${r.labelIssues.length - show} more`);
  }
  out.push('');
  out.push(
    `outliers: ${r.outliers.length} (mean cosine to ${r.outlierK} nearest ${r.outliersPerClass ? 'same-class ' : ''}neighbours more than ${r.outlierZ} robust SD below ${r.outliersPerClass ? 'its class' : 'the'} median)`,
  );
  for (const o of r.outliers.slice(0, show))
    out.push(
      `  ${name(o.row)}  similarity ${o.score.toFixed(3)} (median ${o.groupMedian.toFixed(3)}, z ${o.z.toFixed(1)})`,
    );
  if (r.outliers.length > show) out.push(`  … ${r.outliers.length - show} more`);
  return out.join('\n') + '\n';
}
