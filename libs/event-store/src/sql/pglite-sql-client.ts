import { AsyncLocalStorage } from 'node:async_hooks';
import { PGlite } from '@electric-sql/pglite';
import { SqlClient, TransactionClient } from './sql-client';

/**
 * SqlClient over PGlite, the embedded PostgreSQL. PGlite is a single connection: it queues every
 * statement and transaction behind the transaction in progress (its own mutex), so concurrent
 * callers are serialized rather than interleaved, and a transaction never sees statements of
 * another caller.
 *
 * The one way to hang it is to wait, inside a transaction, for a statement issued on the root
 * client: that statement queues behind the very transaction waiting for it. Such calls are
 * detected (the transaction's async context is tracked) and rejected with an explanation instead.
 */
export class PgliteSqlClient implements SqlClient {
  readonly engine = 'pglite' as const;
  private readonly insideTransaction = new AsyncLocalStorage<true>();

  private constructor(private readonly db: PGlite) {}

  /** Opens (creating if needed) the database in `dataDir`, or an in-memory one without it. */
  static async open(dataDir?: string): Promise<PgliteSqlClient> {
    const db = new PGlite(dataDir);
    await db.waitReady;
    return new PgliteSqlClient(db);
  }

  async query<T = Record<string, unknown>>(
    text: string,
    params?: unknown[],
  ): Promise<{ rows: T[] }> {
    this.assertNotInsideTransaction();
    const result = await this.db.query<T>(text, params);
    return { rows: result.rows };
  }

  async exec(script: string): Promise<void> {
    this.assertNotInsideTransaction();
    await this.db.exec(script);
  }

  async transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    this.assertNotInsideTransaction();
    return this.db.transaction(async (pgliteTx) => {
      const tx = new TransactionClient(this.engine, {
        query: async <R>(text: string, params?: unknown[]) => ({
          rows: (await pgliteTx.query<R>(text, params)).rows,
        }),
        exec: async (script: string) => {
          await pgliteTx.exec(script);
        },
      });
      try {
        return await this.insideTransaction.run(true, () => fn(tx));
      } finally {
        tx.end();
      }
    });
  }

  async close(): Promise<void> {
    if (!this.db.closed) await this.db.close();
  }

  private assertNotInsideTransaction(): void {
    if (this.insideTransaction.getStore()) {
      throw new Error(
        'PGlite is a single connection: a statement on the root client issued from inside a ' +
          'running transaction would wait for that transaction forever; use the client handed ' +
          'to the transaction callback',
      );
    }
  }
}
