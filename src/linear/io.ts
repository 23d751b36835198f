/** Reading and writing classifier files: atomic writes, and one sentence when a file is missing or not ours. */
import * as fs from 'fs';
import { writeFileAtomicSync } from '../util/atomic';
import { ConvfeatError } from '../util/errors';
import { LinearClassifier } from './classifier';

export function saveClassifier(file: string, clf: LinearClassifier): void {
  writeFileAtomicSync(file, `${JSON.stringify(clf.toJSON())}\n`);
}

export function loadClassifier(file: string): LinearClassifier {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new ConvfeatError(`Cannot read the classifier file ${file}; check the path.`);
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    throw new ConvfeatError(`${file} is not a convfeat classifier file (it is not JSON); pass a file written by convfeat fit-linear.`);
  }
  return LinearClassifier.fromJSON(obj, file);
}
