/** The report stage's public surface: metrics, evaluation, pictures, the HTML report, learning-curve advice (the root exports it as `report`). */
export * from './metrics';
export { confusionMatrix, formatConfusionMatrix } from './confusion';
export { evaluateOnCache, assertCompatible } from './evaluate';
export type { EvaluationResult } from './evaluate';
export { renderChart, rasteriseSvg, messageChart, CHART_FONT } from './charts';
export type { RenderedChart } from './charts';
export { confusionChartSpec, renderConfusionChart } from './confusionChart';
export type { ConfusionChartOptions } from './confusionChart';
export { curvesSpec, renderCurves, missingCurvesReason, formatC } from './curves';
export { renderReportHtml, escapeHtml } from './html';
export type { ReportPage, ReportThumb, ConfusedPair, PagePicture } from './html';
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
export { adviceChartSpec, renderAdviceChart, writeAdvicePlot, formatAdvice } from './adviceChart';
export { convfeatVersion } from './version';
