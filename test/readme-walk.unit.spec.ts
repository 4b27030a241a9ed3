import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * The README's "Adding things" walk names every production file a newcomer touches: each must
 * exist (a placeholder such as `<slice>` must match a file), and the walks stay as short as
 * the architecture promises.
 */
const ROOT = join(__dirname, '..');
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The source paths named in the numbered steps of the walk under `**<title>**`. */
function walk(title: string): string[] {
  const start = readme.indexOf(`**${title}**`);
  if (start < 0) throw new Error(`README has no walk "${title}"`);
  const end = readme.indexOf('\n**', start + 1);
  const steps = readme
    .slice(start, end < 0 ? undefined : end)
    .split(/\n(?=\d+\. )|\n\n/)
    .filter((step) => /^\d+\. /.test(step));
  const paths = steps.flatMap((step) =>
    [...step.matchAll(/`((?:apps|libs)\/[^`\s]+\.ts)`/g)].map((m) => m[1]),
  );
  return [...new Set(paths)];
}

/** Whether a path exists, a `<placeholder>` in its file name matching any name in its folder. */
function exists(path: string): boolean {
  const folder = dirname(path);
  const name = new RegExp(
    `^${basename(path)
      .replace(/\./g, '\\.')
      .replace(/<[^>]+>/g, '[\\w-]+')}$`,
  );
  return (
    existsSync(join(ROOT, folder)) && readdirSync(join(ROOT, folder)).some((n) => name.test(n))
  );
}

describe('the README walk', () => {
  it.each([
    ['A command-driven event type', 5],
    ['A service', 3],
  ])('"%s" names at most %d production files, each of which exists', (title, most) => {
    const paths = walk(title);

    expect(paths.length).toBeGreaterThan(1);
    expect(paths.length).toBeLessThanOrEqual(most);
    expect(paths.filter((path) => !exists(path))).toEqual([]);
  });
});
