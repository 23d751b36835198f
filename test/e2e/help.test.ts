/**
 * Help that teaches (issue 12): every command's --help, walked from `convfeat --help` down through its subcommands,
 * gives every option a description and shows two or three examples; `convfeat help X` is `convfeat X --help`; a
 * mistyped flag names the nearest real one; `advise --fractions` takes comma lists.
 */
import { execFile, spawnSync } from 'child_process';
import * as path from 'path';
import { promisify } from 'util';
import { editDistance, nearestFlag } from '../../src/commands/help';
import { REPO_ROOT } from '../support/data';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const exec = promisify(execFile);

async function help(args: string[]): Promise<string> {
  const { stdout } = await exec(process.execPath, [CLI, ...args, '--help'], { encoding: 'utf8', timeout: 120000 });
  return stdout;
}

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Subcommand names listed under "Commands:" (lines "  convfeat <prefix> NAME …"). */
function listedCommands(text: string, prefix: string[]): string[] {
  const section = text.split(/\n(?=\S)/).find((s) => s.startsWith('Commands:'));
  if (!section) return [];
  const re = new RegExp(`^\\s+convfeat ${prefix.map((p) => `${p} `).join('')}([a-z][\\w-]*)`);
  return section
    .split('\n')
    .map((l) => re.exec(l)?.[1])
    .filter((c): c is string => !!c && c !== 'help');
}

/** Options whose help line is only the flag and its [type]/[default]/[choices] tags. */
function undescribed(text: string): string[] {
  const section = text.split(/\n(?=\S)/).filter((s) => /^(Options|Positionals):/.test(s));
  const missing: string[] = [];
  for (const line of section.join('\n').split('\n')) {
    // Flag lines start with two spaces; deeper indents continue the previous line's description.
    const m = /^ {2}(?:-\w, )?(--[\w-]+|[\w-]+)\s{2,}(.*)$|^ {2}(?:-\w, )?(--[\w-]+)\s*$/.exec(line);
    if (!m) continue;
    const flag = m[1] ?? m[3];
    const rest = (m[2] ?? '').replace(/\[[^\]]*\]/g, '').trim();
    if (!rest) missing.push(flag);
  }
  return missing;
}

describe('help', () => {
  test('every command and subcommand: each option has a description, and 2–3 examples are shown', async () => {
    const top = await help([]);
    const paths: string[][] = [];
    for (const c of listedCommands(top, [])) {
      const text = await help([c]);
      const subs = listedCommands(text, [c]);
      if (subs.length === 0) paths.push([c]);
      else {
        paths.push([c]);
        for (const s of subs) paths.push([c, s]);
      }
    }
    // The commands the README lists are all there.
    for (const c of ['demo', 'extract', 'fit-linear', 'evaluate', 'predict', 'advise', 'export', 'preprocess'])
      expect(paths.map((p) => p.join(' '))).toContain(c);
    expect(paths.map((p) => p.join(' '))).toEqual(expect.arrayContaining(['cache compact', 'models inspect']));
    const texts = await Promise.all(paths.map((p) => help(p)));
    const report = paths.map((p, i) => {
      const examples = (texts[i].split('\nExamples:')[1] ?? '').split('\n').filter((l) => /^\s+convfeat /.test(l));
      return { command: p.join(' '), undescribed: undescribed(texts[i]), examples: examples.length >= 2 };
    });
    expect(report).toEqual(report.map((r) => ({ ...r, undescribed: [], examples: true })));
  });

  test('`convfeat help extract` prints the help of extract', async () => {
    const r = run(['help', 'extract']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('convfeat extract');
    expect(r.stdout).toContain('--batch-size');
    expect(r.stdout).toContain('Examples:');
    expect(r.stdout).not.toMatch(/Did you mean/);
  });

  test('a mistyped flag names the nearest one, exit code 2', () => {
    const solvr = run(['fit-linear', '--cache', 'c', '--out', 'o.json', '--solvr', 'svm']);
    expect(solvr.code).toBe(2);
    expect(solvr.stderr).toContain('Unknown option --solvr; did you mean --solver?');
    // A typo of a required flag used to read "Missing required argument: classifier".
    const classifer = run(['evaluate', '--classifer', 'clf.json', '--cache', 'c']);
    expect(classifer.code).toBe(2);
    expect(classifer.stderr).toContain('Unknown option --classifer; did you mean --classifier?');
    const far = run(['cache', 'info', '--cache', 'c', '--zzzzzz']);
    expect(far.code).toBe(2);
    expect(far.stderr).toContain('Unknown option --zzzzzz; run with --help');
  });

  test('nearestFlag: transpositions count once, far words get no suggestion', () => {
    expect(editDistance('cahce', 'cache')).toBe(1);
    expect(nearestFlag('cahce', ['cache', 'json'])).toBe('cache');
    expect(nearestFlag('batchsize', ['batch-size', 'workers'])).toBe('batch-size');
    expect(nearestFlag('xyz', ['cache', 'json'])).toBeNull();
  });

  test('advise --fractions takes a comma list; a word in it is refused by name with exit code 2', () => {
    const bad = run(['advise', '--cache', 'nowhere', '--fractions', '0.1,half']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Expected --fractions to be numbers such as 0.1,0.5,1 but received "half"');
    // A good list gets past parsing: the failure is now about the (missing) cache, not about NaN.
    const good = run(['advise', '--cache', 'nowhere', '--fractions', '0.1,0.5']);
    expect(good.stderr).not.toMatch(/NaN|fractions/);
    expect(good.stderr).toMatch(/nowhere/);
  });
});
