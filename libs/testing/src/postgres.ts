import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/**
 * URL of the test run's PostgreSQL server, set by the jest global setup (test/global-setup.ts)
 * from DATABASE_URL or a throwaway server it started.
 */
export function testDatabaseUrl(): string {
  const url = process.env.TRUCELINE_TEST_DATABASE_URL;
  if (!url) {
    throw new Error(
      'TRUCELINE_TEST_DATABASE_URL is not set: run the tests through jest, whose global setup ' +
        'provides PostgreSQL (DATABASE_URL or a throwaway server)',
    );
  }
  return url;
}

export interface TestDatabase {
  url: string;
  /** Drops the database, closing whatever connections are still open on it. */
  drop(): Promise<void>;
}

/** A fresh database with a random name on the test server, so spec files never share state. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = testDatabaseUrl();
  const name = `truceline_test_${randomBytes(6).toString('hex')}`;
  return {
    url: await createDatabase(serverUrl, name),
    drop: () => onServer(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

/** Creates database `name` on the server at `serverUrl`; resolves to its URL. */
export async function createDatabase(serverUrl: string, name: string): Promise<string> {
  await onServer(serverUrl, `CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function onServer(serverUrl: string, statement: string): Promise<void> {
  const client = new Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
