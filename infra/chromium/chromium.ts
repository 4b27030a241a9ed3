/**
 * Debian's Chromium for tests that look at a page as a person would (the audit report): the
 * machine's /usr/bin/chromium, installed from Debian's packages when missing, as the test
 * PostgreSQL is. Tests never skip for want of a browser: if none can be had, this throws.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CHROMIUM = '/usr/bin/chromium';
/** A font that always renders: the report's text must not come out as empty boxes. */
const PACKAGES = ['chromium', 'fonts-dejavu-core'];

/** The path of a Chromium headless tests can launch (installing it with apt-get if needed). */
export function provideChromium(log: (line: string) => void = console.log): string {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  const hint = 'install it (Debian: apt-get install chromium)';
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
    throw new Error(`no Chromium at ${CHROMIUM}: ${hint}`);
  }
  log(`[test chromium] ${CHROMIUM} not found: installing Debian packages ${PACKAGES.join(', ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', ...PACKAGES]]) {
    const result = spawnSync('apt-get', args, { env, encoding: 'utf8', timeout: 900_000 });
    if (result.status !== 0) {
      const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.slice(-2000);
      throw new Error(`apt-get ${args.join(' ')} failed (${hint}):\n${output}`);
    }
  }
  if (!existsSync(CHROMIUM)) throw new Error(`chromium installed but ${CHROMIUM} is missing`);
  return CHROMIUM;
}

/** Flags for headless Chromium in a container run as root, without a GPU or a user session. */
export const HEADLESS_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'];
