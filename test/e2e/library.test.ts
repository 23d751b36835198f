/**
 * The README's "Use as a library" section, as a user meets it: `npm pack` the checkout, install the tarball in an
 * empty folder outside it with the README's command (only the npm registry or its cache: no NuGet), type-check the
 * README's example against the installed .d.ts with TypeScript 5.0 (the oldest the README promises) and with the
 * project's TypeScript, then run it on real photos with the real ResNet50 (the store pointed at the checkout's onnx/).
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { photos, REPO_ROOT } from '../support/data';
import { realResnet50, STORE_DIR } from '../support/model';

/** The blocks of one README section, by fence language, in order. */
function readmeBlocks(heading: string): Record<string, string[]> {
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README.md has no section "${heading}"`);
  const end = readme.indexOf('\n## ', start + heading.length + 2);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const blocks: Record<string, string[]> = {};
  for (const m of section.matchAll(/```(\w+)\n([\s\S]*?)```/g)) (blocks[m[1]!] ??= []).push(m[2]!);
  return blocks;
}

/** The environment of a user's shell: no npm_* variables inherited from an `npm test` around jest. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return { ...env, ...extra };
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  if (r.error) throw new Error(`${what}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${what} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function sh(command: string, cwd: string, env: NodeJS.ProcessEnv): string {
  return ok(spawnSync('bash', ['-c', command], { cwd, env, encoding: 'utf8', timeout: 240000 }), command);
}

/** Like sh, without blocking: the two type checks (≈ 10 s each, mostly @types/node) share the two cores. */
function shAsync(command: string, cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', command], { cwd, env });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} exited ${code}:\n${out}`))));
  });
}

// Outside the checkout (and so outside its node_modules): what a fresh project sees.
const consumer = fs.mkdtempSync(path.join(os.tmpdir(), 'convfeat-consumer-'));
afterAll(() => {
  if (!process.env.CONVFEAT_KEEP_TMP) fs.rmSync(consumer, { recursive: true, force: true });
});

test("the README's library example installs from npm pack, type-checks under TypeScript 5.0 and 6, and runs", async () => {
  await realResnet50();
  const blocks = readmeBlocks('## Use as a library');
  const install = blocks.sh?.[0]?.split('\n')[0] ?? '';
  const tsconfig = blocks.json?.[0];
  const example = blocks.ts?.[0];
  expect(tsconfig).toBeDefined();
  expect(example).toBeDefined();

  // 1. Pack (dist/ was just built from these sources by the jest global setup) and install as the README says.
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
    version: string;
    devDependencies: Record<string, string>;
  };
  const tarball = `convfeat-${pkg.version}.tgz`;
  expect(install).toBe(`ONNXRUNTIME_NODE_INSTALL=skip npm install ./${tarball}`);
  const env = userEnv();
  sh(`npm pack --ignore-scripts --silent --pack-destination ${JSON.stringify(consumer)}`, REPO_ROOT, env);
  fs.writeFileSync(path.join(consumer, 'package.json'), '{ "name": "consumer", "private": true }\n');
  // --prefer-offline: the npm cache where it has the package, the npm registry otherwise; never NuGet.
  sh(`${install} --prefer-offline --no-audit --no-fund`, consumer, env);
  const typesNode = pkg.devDependencies['@types/node']!.replace(/^\^/, '');
  sh(`npm install -D typescript@5.0.4 @types/node@${typesNode} --prefer-offline --no-audit --no-fund`, consumer, env);

  // 2. Only the root and package.json are entry points.
  expect(sh(`node -p "require('convfeat/package.json').version"`, consumer, env).trim()).toBe(pkg.version);
  const deep = spawnSync('node', ['-e', "require('convfeat/dist/cache/store')"], { cwd: consumer, encoding: 'utf8' });
  expect(deep.status).not.toBe(0);
  expect(deep.stderr).toContain('ERR_PACKAGE_PATH_NOT_EXPORTED');

  // 3. Type-check against the installed .d.ts (skipLibCheck off) with TypeScript 5.0, emitting example.mjs, and
  // with the project's TypeScript.
  fs.writeFileSync(path.join(consumer, 'tsconfig.json'), tsconfig!);
  fs.writeFileSync(path.join(consumer, 'example.mts'), example!);
  expect(sh('npx tsc --version', consumer, env).trim()).toBe('Version 5.0.4');
  const tsc6 = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  await Promise.all([
    shAsync('npx tsc', consumer, env),
    shAsync(`node ${JSON.stringify(tsc6)} -p . --noEmit`, consumer, env),
  ]);

  // 4. Run it: 3 classes × 5 photos to fit on, two unseen photos to classify.
  const classes = ['airplane', 'car', 'flower'];
  for (const cls of classes) {
    fs.mkdirSync(path.join(consumer, 'photos', cls), { recursive: true });
    for (const p of photos('train', cls, 5)) fs.copyFileSync(p, path.join(consumer, 'photos', cls, path.basename(p)));
  }
  const queries = [photos('test', 'airplane', 1)[0]!, photos('test', 'flower', 1)[0]!];
  const out = ok(
    spawnSync('node', ['example.mjs', 'photos', ...queries], {
      cwd: consumer,
      env: userEnv({ CONVFEAT_MODEL_DIR: STORE_DIR }),
      encoding: 'utf8',
      timeout: 180000,
    }),
    'node example.mjs',
  );
  const lines = out.trim().split('\n');
  expect(lines[0]).toBe('2 × 2048 embedded; 15 extracted, 0 from the cache');
  expect(lines[1]).toMatch(/^C = [0-9.e+-]+ \(cv\)$/);
  expect(lines.slice(2).map((l) => l.split(' ').slice(0, 2))).toEqual([
    [queries[0], 'airplane'],
    [queries[1], 'flower'],
  ]);
  for (const l of lines.slice(2)) expect(Number(l.split(' ')[2])).toBeGreaterThan(0.5);
  expect(fs.existsSync(path.join(consumer, 'clf.json'))).toBe(true);
});
