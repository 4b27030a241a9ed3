import { execFileSync } from 'node:child_process';
import path from 'node:path';

/** The layer rules of .dependency-cruiser.cjs, run as a test so `npm test` enforces them. */
describe('architecture', () => {
  const root = path.resolve(__dirname, '..');

  it('keeps libs/domain pure, apps apart and libraries behind their index', () => {
    const run = () =>
      execFileSync(
        process.execPath,
        [
          path.join(root, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs'),
          'apps',
          'libs',
          'test',
          '--config',
          '.dependency-cruiser.cjs',
          '--output-type',
          'err',
        ],
        { cwd: root, encoding: 'utf8', stdio: 'pipe' },
      );
    let output = '';
    try {
      output = run();
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string };
      throw new Error(`dependency-cruiser found violations:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
    expect(output).not.toMatch(/error/i);
  }, 60_000);
});
