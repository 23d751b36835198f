/** The audit stage's public surface: duplicates and leakage, likely label errors, outliers, nearest neighbours. */
export { auditCache } from './audit';
export type { AuditOptions, AuditResult, AuditRow, LeakageEffect } from './audit';
export { similarImages } from './similar';
export type { SimilarOptions, SimilarResult, SimilarMatch } from './similar';
export { normalizeRows, selfSearch, searchNearest } from './search';
export type { Neighbours, SimilarPair, SelfSearchOptions } from './search';
export { confidentLearning, outOfFoldProbabilities } from './labels';
export type { LabelIssue, ConfidentLearningResult, OutOfFoldOptions } from './labels';
export { findDuplicates, DEFAULT_NEAR_DUPLICATE_THRESHOLD } from './duplicates';
export type { DuplicatePair } from './duplicates';
export { findOutliers, neighbourScores, DEFAULT_OUTLIER_Z } from './outliers';
export type { Outlier } from './outliers';
export { issuesCsv, readExcludeFile } from './csv';
export { auditToJson, formatAudit } from './format';
export { writeAuditReport } from './writeAudit';
