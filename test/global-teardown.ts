import { TEST_KAFKA, TEST_POSTGRES } from './global-setup';
import type { LocalKafka } from '../infra/kafka/local-kafka';
import type { TestPostgres } from '../infra/postgres/pg-test-server';

/** Stops the throwaway PostgreSQL and Kafka of global-setup and removes their files. */
export default async function globalTeardown(): Promise<void> {
  const holder = globalThis as typeof globalThis & {
    [TEST_POSTGRES]?: TestPostgres;
    [TEST_KAFKA]?: LocalKafka;
  };
  const server = holder[TEST_POSTGRES];
  const kafka = holder[TEST_KAFKA];
  holder[TEST_POSTGRES] = undefined;
  holder[TEST_KAFKA] = undefined;
  await Promise.all([server?.stop(), kafka?.stop()]);
}
