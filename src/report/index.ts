/**
 * The report stage's public surface (the root exports it as `report`): metrics, evaluation, the HTML report,
 * learning-curve advice. The chart builders (charts, confusionChart, curves, adviceChart) stay out: their types are
 * vega-lite's, which would put ~90 declaration files into every consumer's type check (about 5 s with skipLibCheck
 * off) for pictures that writeReport (and `convfeat advise --plot`) already draw.
 */
export * from './metrics';
export { confusionMatrix, formatConfusionMatrix } from './confusion';
export { evaluateOnCache, assertCompatible } from './evaluate';
export type { EvaluationResult } from './evaluate';
export { writeReport, confusedPairs, REPORT_FORMAT, THUMBNAIL_SIZE } from './writeReport';
export type { WriteReportOptions, WriteReportResult } from './writeReport';
export { advise, learningCurve, DEFAULT_FRACTIONS } from './advise';
export type { Advice, AdviseOptions, CurvePoint } from './advise';
export {
  recommend,
  slopePerDoubling,
  LARGE_PER_CLASS,
  STEEP_SLOPE_PP,
  SIMILAR_ACCURACY,
  DISSIMILAR_ACCURACY,
} from './recommend';
export type { Recommendation } from './recommend';
export { convfeatVersion } from '../util/version';
