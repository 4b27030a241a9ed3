import { checkKafka, startLocalKafka, type LocalKafka } from '../infra/kafka/local-kafka';
import {
  startThrowawayPostgres,
  TestPostgres,
  useExistingPostgres,
} from '../infra/postgres/pg-test-server';

/** Handed to global-teardown, which runs in this same process. */
export const TEST_POSTGRES = Symbol.for('truceline.testPostgres');
export const TEST_KAFKA = Symbol.for('truceline.testKafka');
type WithServers = typeof globalThis & {
  [TEST_POSTGRES]?: TestPostgres;
  [TEST_KAFKA]?: LocalKafka;
};

/**
 * Provides the PostgreSQL and the Apache Kafka every *.int and *.e2e spec runs against, side by
 * side; jest workers inherit the environment set here. No PostgreSQL or no Kafka means a failed
 * run, never silently skipped tests.
 */
export default async function globalSetup(): Promise<void> {
  enableImportInsideJest();
  const [postgres, kafka] = await Promise.allSettled([providePostgres(), provideKafka()]);
  if (postgres.status === 'rejected' || kafka.status === 'rejected') {
    // Jest runs no teardown after a failed setup: stop what did start.
    if (postgres.status === 'fulfilled') await postgres.value.stop();
    if (kafka.status === 'fulfilled') await kafka.value?.stop();
    throw postgres.status === 'rejected'
      ? postgres.reason
      : (kafka as PromiseRejectedResult).reason;
  }
}

async function providePostgres(): Promise<TestPostgres> {
  const started = Date.now();
  const url = process.env.DATABASE_URL;
  const server = url ? await useExistingPostgres(url) : await startThrowawayPostgres();
  (globalThis as WithServers)[TEST_POSTGRES] = server;
  process.on('exit', () => server.stopSync());
  process.env.TRUCELINE_TEST_DATABASE_URL = server.url;
  console.log(
    `\n[test postgres] tests use ${server.description} (ready in ${Date.now() - started} ms)`,
  );
  return server;
}

/**
 * The broker KAFKA_BROKERS names (it must answer), else a single-node Apache Kafka started here
 * from the jars of infra/kafka (fetched with Maven on first use). Its address goes to the
 * workers in KAFKA_BROKERS.
 */
async function provideKafka(): Promise<LocalKafka | undefined> {
  const started = Date.now();
  const given = process.env.KAFKA_BROKERS;
  if (given) {
    const brokers = given
      .split(',')
      .map((broker) => broker.trim())
      .filter(Boolean);
    await checkKafka(brokers).catch((error: unknown) => {
      throw new Error(`KAFKA_BROKERS is set but ${error instanceof Error ? error.message : error}`);
    });
    process.env.KAFKA_BROKERS = brokers.join(',');
    console.log(
      `\n[test kafka] tests use the Kafka of KAFKA_BROKERS (${brokers.join(',')}) ` +
        `(answered in ${Date.now() - started} ms)`,
    );
    return undefined;
  }
  let kafka: LocalKafka;
  try {
    kafka = await startLocalKafka({
      log: (line) => console.log(`\n[test kafka] ${line.replace(/^\[kafka\] /, '')}`),
    });
  } catch (error) {
    throw new Error(
      `[test kafka] no Kafka for the tests (set KAFKA_BROKERS to use a running one): ` +
        `${error instanceof Error ? error.message : error}`,
    );
  }
  (globalThis as WithServers)[TEST_KAFKA] = kafka;
  process.env.KAFKA_BROKERS = kafka.brokers.join(',');
  console.log(
    `\n[test kafka] tests use Apache Kafka ${kafka.version} (KRaft, started by the tests) on ` +
      `${kafka.brokers.join(',')} (ready in ${Date.now() - started} ms)`,
  );
  return kafka;
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
