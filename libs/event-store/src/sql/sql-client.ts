/**
 * The little SQL surface the event store and the projections need, with one implementation per
 * engine: PostgreSQL through a `pg` pool, and PGlite (PostgreSQL compiled to wasm, embedded).
 * Both speak the same SQL, so the schema and every statement are written once.
 */
export interface SqlClient {
  readonly engine: 'postgres' | 'pglite';
  /** One statement with positional parameters ($1, $2, …). */
  query<T = Record<string, unknown>>(
    text: string,
    params?: unknown[],
    options?: QueryOptions,
  ): Promise<{ rows: T[] }>;
  /** A script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
  /**
   * Runs `fn` in a transaction on one connection: committed when `fn` resolves, rolled back when
   * it throws. Called on a transaction's own client it nests as a savepoint.
   */
  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T>;
  /**
   * LISTEN on a channel (PostgreSQL only: other processes' NOTIFYs reach this one).
   * Resolves to the function that stops listening.
   */
  listen?(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface QueryOptions {
  /**
   * A statement run again and again with new parameters (the append): kept prepared on each
   * connection, parsed and planned once instead of on every call. Only for statements whose
   * plan cannot depend on their parameters' values (a generic plan is kept).
   */
  prepare?: boolean;
}

/** What a transaction needs from the connection it runs on. */
export interface Statements {
  query<T>(text: string, params?: unknown[], options?: QueryOptions): Promise<{ rows: T[] }>;
  exec(script: string): Promise<void>;
}

/** The client handed to a transaction's callback: every statement runs on its connection. */
export class TransactionClient implements SqlClient {
  private savepoints = 0;
  private closed = false;

  constructor(
    readonly engine: SqlClient['engine'],
    private readonly statements: Statements,
  ) {}

  query<T = Record<string, unknown>>(
    text: string,
    params?: unknown[],
    options?: QueryOptions,
  ): Promise<{ rows: T[] }> {
    this.assertOpen();
    return this.statements.query<T>(text, params, options);
  }

  async exec(script: string): Promise<void> {
    this.assertOpen();
    await this.statements.exec(script);
  }

  async transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    this.assertOpen();
    const name = `sp_${++this.savepoints}`;
    await this.statements.exec(`SAVEPOINT ${name}`);
    try {
      const result = await fn(this);
      await this.statements.exec(`RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (error) {
      await this.statements.exec(`ROLLBACK TO SAVEPOINT ${name}`);
      throw error;
    }
  }

  /** Marks the transaction finished: a statement issued later is a bug, never a silent autocommit. */
  end(): void {
    this.closed = true;
  }

  async close(): Promise<void> {
    throw new Error('a transaction client is closed by its transaction, not by close()');
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('statement issued on a transaction that has already ended');
  }
}

/** PostgreSQL error code of a unique violation, reported alike by pg and PGlite. */
export const isUniqueViolation = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';
