/** Reading and writing classifier files: atomic writes, and one sentence when a file is missing or not ours. */
import * as fs from 'fs';
import { writeFileAtomicSync } from '../util/atomic';
import { ConvfeatError } from '../util/errors';
import { LinearClassifier } from './classifier';

export function saveClassifier(file: string, clf: LinearClassifier): void {
  const text = `${JSON.stringify(clf.toJSON())}\n`;
  try {
    if (fs.existsSync(file) && fs.statSync(file).isDirectory())
      throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    writeFileAtomicSync(file, text);
  } catch (e) {
    if (e instanceof ConvfeatError) throw e; // a full disk, a file in the folder's place: already one sentence
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new ConvfeatError(
      `Cannot write the classifier to ${file} (${code}); give a writable file path such as clf.json.`,
    );
  }
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
    throw new ConvfeatError(
      `${file} is not a convfeat classifier file (it is not JSON); pass a file written by convfeat fit-linear.`,
    );
  }
  return LinearClassifier.fromJSON(obj, file);
}
