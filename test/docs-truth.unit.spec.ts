import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * The docs and comments say what is true now: no "later milestone" for what exists, no claim
 * that the signing key signs while nothing signs with it, no comment pointing at an issue
 * number instead of explaining the code, no list summary that contradicts the list's order.
 */
const ROOT = join(__dirname, '..');
const SOURCES = ['apps', 'libs', 'test', 'infra', 'examples', 'docs', 'bin'];
const TEXT_FILE = /\.(ts|js|cjs|mjs|md|yaml|yml|json)$/;

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (name === 'node_modules' || name.startsWith('.')) return [];
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return filesUnder(path);
    return TEXT_FILE.test(name) ? [path] : [];
  });
}

const files = [join(ROOT, 'README.md'), ...SOURCES.flatMap((dir) => filesUnder(join(ROOT, dir)))]
  // This file names what it looks for.
  .filter((file) => file !== __filename);
const linesMatching = (pattern: RegExp) =>
  files.flatMap((file) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .flatMap((line, index) =>
        pattern.test(line) ? [`${relative(ROOT, file)}:${index + 1}: ${line.trim()}`] : [],
      ),
  );

describe('docs and comments', () => {
  it('cite no issue numbers', () => {
    expect(linesMatching(new RegExp(['\\bissue', '\\s*#?\\d'].join(''), 'i'))).toEqual([]);
  });

  it('promise no "later milestone"', () => {
    expect(linesMatching(new RegExp(['later', 'milestone'].join(' '), 'i'))).toEqual([]);
  });

  it('say "newest first" of no list', () => {
    expect(linesMatching(new RegExp(['newest', 'first'].join(' '), 'i'))).toEqual([]);
  });

  it('describe TRUCELINE_SIGNING_KEY as signing only once code signs with it', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const line = readme.split('\n').find((l) => l.includes('`TRUCELINE_SIGNING_KEY`')) ?? '';
    const used = files.some(
      (file) =>
        /\.ts$/.test(file) &&
        !file.includes(join('libs', 'config')) &&
        !file.endsWith('.spec.ts') &&
        /\.signingKey\b|\bsigningKeyOf\(/.test(readFileSync(file, 'utf8')),
    );
    if (!used) expect(line).toMatch(/nothing is signed with it yet/);
    else expect(line).toMatch(/\bsigns\b/);
  });
});
