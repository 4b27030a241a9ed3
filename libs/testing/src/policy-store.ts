import type { OpenDatabaseOptions, SqlClient, SqlEventStore } from '@truceline/event-store';
import type { PolicyRegistry } from '@truceline/projections';

/** What the projections and command handlers of a spec run on: a database, its store, its policies. */
export interface PolicyStore {
  sql: SqlClient;
  store: SqlEventStore;
  /** Loaded: version 1 is adopted. */
  policies: PolicyRegistry;
  /** Closes the store, then the database. */
  close(): Promise<void>;
}

/**
 * A database (PGlite in memory unless `database` says otherwise) with the event store ready on
 * it and the policy registry loaded. `migrate` runs after the store's own schema and before the
 * registry reads, for the tables the spec's projection needs.
 */
export async function openPolicyStore(
  database: OpenDatabaseOptions = { inMemory: true },
  migrate?: (sql: SqlClient) => Promise<unknown>,
): Promise<PolicyStore> {
  // Loaded on the first call: the specs that import this library for its facts alone (the
  // domain's unit specs) load no database engine.
  const { openDatabase, SqlEventStore } = await import('@truceline/event-store');
  const { PolicyRegistry } = await import('@truceline/projections');
  const sql = await openDatabase(database);
  const store = new SqlEventStore(sql);
  try {
    await store.init();
    await migrate?.(sql);
    const policies = new PolicyRegistry(store);
    await policies.load();
    return {
      sql,
      store,
      policies,
      close: async () => {
        await store.close();
        await sql.close();
      },
    };
  } catch (error) {
    await store.close().catch(() => undefined);
    await sql.close().catch(() => undefined);
    throw error;
  }
}
