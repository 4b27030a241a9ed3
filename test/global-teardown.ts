import { TEST_POSTGRES } from './global-setup';
import type { TestPostgres } from '../infra/postgres/pg-test-server';

/** Stops the throwaway PostgreSQL of global-setup and removes its files. */
export default async function globalTeardown(): Promise<void> {
  const holder = globalThis as typeof globalThis & { [TEST_POSTGRES]?: TestPostgres };
  const server = holder[TEST_POSTGRES];
  holder[TEST_POSTGRES] = undefined;
  await server?.stop();
}
