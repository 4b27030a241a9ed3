import {
  startThrowawayPostgres,
  TestPostgres,
  useExistingPostgres,
} from '../infra/postgres/pg-test-server';

/** Handed to global-teardown, which runs in this same process. */
export const TEST_POSTGRES = Symbol.for('truceline.testPostgres');
type WithPostgres = typeof globalThis & { [TEST_POSTGRES]?: TestPostgres };

/**
 * Provides the PostgreSQL every *.int and *.e2e spec runs against; jest workers inherit the
 * environment set here. No PostgreSQL means a failed run, never silently skipped tests.
 */
export default async function globalSetup(): Promise<void> {
  enableImportInsideJest();
  const started = Date.now();
  const url = process.env.DATABASE_URL;
  const server = url ? await useExistingPostgres(url) : await startThrowawayPostgres();
  (globalThis as WithPostgres)[TEST_POSTGRES] = server;
  process.on('exit', () => server.stopSync());
  process.env.TRUCELINE_TEST_DATABASE_URL = server.url;
  console.log(
    `\n[test postgres] tests use ${server.description} (ready in ${Date.now() - started} ms)`,
  );
}

/**
 * PGlite 0.5's CommonJS build loads parts of itself with import(), which Jest's sandbox allows
 * only under --experimental-vm-modules. Jest forks its workers after this global setup, so they
 * inherit the flag from here; a run in band (one test file) needs it on the command line.
 */
function enableImportInsideJest(): void {
  const flags = ['--experimental-vm-modules', '--disable-warning=ExperimentalWarning'];
  const current = process.env.NODE_OPTIONS ?? '';
  const missing = flags.filter((flag) => !current.includes(flag));
  if (missing.length > 0) process.env.NODE_OPTIONS = [current, ...missing].join(' ').trim();
}
