import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PgSqlClient } from './pg-sql-client';
import { PgliteSqlClient } from './pglite-sql-client';
import { SqlClient } from './sql-client';

export interface OpenDatabaseOptions {
  /** A PostgreSQL server; when set it wins over the embedded store. */
  databaseUrl?: string;
  /** Where PGlite keeps its files (created if missing). */
  dataDir?: string;
  /** PGlite in memory: nothing survives close (tests, throwaway tools). */
  inMemory?: boolean;
  /** PostgreSQL pool size. */
  poolSize?: number;
}

/** PostgreSQL when a URL is given, otherwise the embedded PGlite (SPEC §8: DATABASE_URL). */
export async function openDatabase(options: OpenDatabaseOptions): Promise<SqlClient> {
  if (options.databaseUrl) {
    return PgSqlClient.connect(options.databaseUrl, { poolSize: options.poolSize });
  }
  if (options.dataDir) {
    const dir = resolve(options.dataDir);
    await mkdir(dir, { recursive: true });
    return PgliteSqlClient.open(dir);
  }
  if (options.inMemory) return PgliteSqlClient.open();
  throw new Error('openDatabase needs a databaseUrl, a dataDir or inMemory: true');
}
