/**
 * `convfeat export` as a library call: a fitted classifier and the backbone it was trained on (matched as predict
 * matches it, deploy/match) become one ONNX file through the fused export. The output path is checked before the
 * backbone is prepared (a folder in its place, a parent that cannot be made), temporaries a killed export left beside
 * it are removed, and the file is written atomically.
 */
import * as fs from 'fs';
import * as path from 'path';
import { decodeModel } from '../backbone/graph/proto';
import type { LinearClassifier } from '../linear';
import { removeDeadTemps } from '../util/atomic';
import { ensureParentDir } from '../util/dirs';
import { UsageError } from '../util/errors';
import { param } from '../util/params';
import { nonEmptyString } from '../util/validate';
import { exportFusedOnnx, type FusedModel } from './fusedExport';
import { backboneForClassifier, type MatchOptions } from './match';

export interface ExportClassifierOptions extends MatchOptions {
  /** The .onnx file to write (replaced atomically). */
  out: string;
}

export interface ExportedClassifier extends FusedModel {
  file: string;
  bytes: number;
  /** The backbone's name as prepared (`resnet50`, `resnet50@int8`, a user file's base name). */
  backbone: string;
}

export async function exportClassifier(
  clf: LinearClassifier,
  options: ExportClassifierOptions,
): Promise<ExportedClassifier> {
  const out = nonEmptyString(param('out'), options?.out);
  if (fs.statSync(out, { throwIfNoEntry: false })?.isDirectory())
    throw new UsageError(
      `${param('out')} ${out} is a folder; give a file name such as ${path.join(out, 'model.onnx')}.`,
    );
  ensureParentDir(out, `${param('out')} ${out}`);
  removeDeadTemps(out); // a killed export leaves a temp as large as the model
  const { prepared } = await backboneForClassifier(clf, options);
  const result = exportFusedOnnx({
    backboneModel: decodeModel(prepared.cutBytes(), prepared.name),
    spec: prepared.spec,
    classifier: clf,
    backboneFingerprint: prepared.fingerprint,
    out,
  });
  return { ...result, backbone: prepared.name };
}
