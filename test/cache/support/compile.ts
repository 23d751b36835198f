/**
 * Child processes cannot run TypeScript, so the kill test transpiles the modules it needs (no type check: ts-jest
 * and tsc already do that) into a temp folder that mirrors src/. Needs no dist/ and is unaffected by other
 * folders' build state.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';
import { REPO_ROOT } from '../../support/data';

export function transpileSources(outDir: string, folders: readonly string[]): void {
  for (const folder of folders) {
    const srcDir = path.join(REPO_ROOT, 'src', folder);
    for (const name of fs.readdirSync(srcDir)) {
      if (!name.endsWith('.ts')) continue;
      const source = fs.readFileSync(path.join(srcDir, name), 'utf8');
      const js = ts.transpileModule(source, {
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
        fileName: name,
      }).outputText;
      const target = path.join(outDir, 'src', folder, name.replace(/\.ts$/, '.js'));
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, js);
    }
  }
}
