/**
 * The keys of the generated models tests keep between runs (./generated.ts): they change with the code that
 * generates the models, cover every file that code imports, and a changed key drops the stale cuts.
 */
import * as fs from 'fs';
import * as path from 'path';
import { tmpDir } from './data';
import { converterSources, cutterSources, dropStaleCuts, importClosure, isFresh, sourceHash } from './generated';

function write(root: string, rel: string, text: string): void {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), text);
}

describe('code hashes of generated models', () => {
  test('the converter key covers the Keras converter, the protobuf writer and the unpacking; the cutter key its analysis', () => {
    const converter = converterSources();
    for (const f of [
      'src/backbone/store/keras/convert.ts',
      'src/backbone/store/keras/layers-conv.ts',
      'src/backbone/graph/proto.ts',
      'src/backbone/store/npm.ts',
      'onnx/models.json',
    ])
      expect(converter).toContain(f);
    const cutter = cutterSources();
    for (const f of [
      'src/backbone/graph/cut.ts',
      'src/backbone/graph/head.ts',
      'src/backbone/graph/shapes.ts',
      'src/backbone/load.ts',
    ])
      expect(cutter).toContain(f);
    expect(cutter).not.toContain('src/backbone/store/keras/convert.ts'); // a converter change re-cuts through the new file
  });

  test('the import closure follows relative imports through folders and index files, and a new file changes the key', () => {
    const root = tmpDir('closure');
    write(root, 'src/a.ts', "import { b } from './lib';\nexport const a = b;\n");
    write(root, 'src/lib/index.ts', "export { b } from './b';\nimport * as fs from 'fs';\n");
    write(root, 'src/lib/b.ts', 'export const b = 1;\n');
    write(root, 'src/unused.ts', 'export const u = 0;\n');
    expect(importClosure(['src/a.ts'], root)).toEqual(['src/a.ts', 'src/lib/b.ts', 'src/lib/index.ts']);
    const before = sourceHash(importClosure(['src/a.ts'], root), root);
    write(root, 'src/lib/b.ts', 'export const b = 2;\n'); // an edit deep in the closure
    const edited = sourceHash(importClosure(['src/a.ts'], root), root);
    expect(edited).not.toBe(before);
    write(root, 'src/lib/c.ts', 'export const c = 3;\n');
    write(root, 'src/lib/index.ts', "export { b } from './b';\nexport { c } from './c';\n"); // a new file
    expect(importClosure(['src/a.ts'], root)).toContain('src/lib/c.ts');
    expect(sourceHash(importClosure(['src/a.ts'], root), root)).not.toBe(edited);
    write(root, 'src/unused.ts', 'export const u = 1;\n'); // outside the closure: same key
    const stable = sourceHash(importClosure(['src/a.ts'], root), root);
    write(root, 'src/unused.ts', 'export const u = 2;\n');
    expect(sourceHash(importClosure(['src/a.ts'], root), root)).toBe(stable);
    write(root, 'src/broken.ts', "import { x } from './missing';\n");
    expect(() => importClosure(['src/broken.ts'], root)).toThrow(/imports \.\/missing, which is not a file/);
  });

  test('cuts made by other cutter code are dropped once; cuts of the current code are kept', () => {
    const cutDir = path.join(tmpDir('cuts'), 'cut');
    fs.mkdirSync(cutDir);
    fs.writeFileSync(path.join(cutDir, 'resnet50-0123.onnx'), 'old cut');
    fs.writeFileSync(path.join(cutDir, 'resnet50-0123.json'), '{}');
    expect(dropStaleCuts(cutDir, 'a'.repeat(64))).toBe(true); // no stamp: made before the key existed
    expect(fs.readdirSync(cutDir)).toEqual(['.code-sha256']);
    expect(isFresh(path.join(cutDir, '.code-sha256'), 'a'.repeat(64))).toBe(true);
    fs.writeFileSync(path.join(cutDir, 'resnet50-4567.onnx'), 'new cut');
    expect(dropStaleCuts(cutDir, 'a'.repeat(64))).toBe(false);
    expect(fs.readdirSync(cutDir).sort()).toEqual(['.code-sha256', 'resnet50-4567.onnx']);
    expect(dropStaleCuts(cutDir, 'b'.repeat(64))).toBe(true); // the cutter changed
    expect(fs.readdirSync(cutDir)).toEqual(['.code-sha256']);
  });
});
