/**
 * predictions.csv of `evaluate --report`: one row per evaluated image with its path, true class, predicted class and
 * the probability of every class, so a user can sort, filter and re-score in a spreadsheet or pandas
 * (`pd.read_csv`). RFC 4180 quoting; a cell that a spreadsheet would run as a formula (=, +, -, @ first) gets a
 * leading apostrophe, as OWASP advises for CSV files opened in Excel.
 */
import type { EvaluationResult } from './evaluate';

export const PREDICTIONS_CSV_VERSION = 1;

function cell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** Header: path,true,predicted,correct,p_<class>… (class names as given, quoted when needed). */
export function predictionsCsv(evaluation: EvaluationResult): string {
  const { metrics, paths, yTrue, yPred, probabilities } = evaluation;
  const classes = metrics.classes;
  const K = classes.length;
  const lines = [['path', 'true', 'predicted', 'correct', ...classes.map((c) => `p_${c}`)].map(cell).join(',')];
  for (let i = 0; i < yTrue.length; i++) {
    const probs: string[] = [];
    for (let k = 0; k < K; k++) probs.push(Number(probabilities[i * K + k].toPrecision(6)).toString());
    lines.push(
      [
        cell(paths[i]),
        cell(classes[yTrue[i]]),
        cell(classes[yPred[i]]),
        yTrue[i] === yPred[i] ? '1' : '0',
        ...probs,
      ].join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}
