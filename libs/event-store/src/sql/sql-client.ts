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
   * `COPY … FROM STDIN` given its rows in COPY's text format (CopyRows), on PostgreSQL only: a
   * bulk load costs the server about a quarter less than an INSERT of the same rows from arrays.
   */
  copyFrom?(statement: string, rows: Buffer): Promise<void>;
  /**
   * LISTEN on a channel (PostgreSQL only: other processes' NOTIFYs reach this one).
   * Resolves to the function that stops listening.
   */
  listen?(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface QueryOptions {
  /**
   * A statement run again and again with new parameters (the append, a POST's reads and the
   * projections' writes): kept prepared on each connection (PostgreSQL; PGlite prepares every
   * statement), parsed once and, after a few runs, planned once for any parameters. Only for
   * statements whose plan for any parameters has no worse alternative at any size of the tables
   * (inserts from parameters, lookups by a unique key or along the index they are ordered by):
   * the plan made on a new database, while the tables are tiny, is kept while they grow, until
   * the next ANALYZE of one of them. A join, or a lookup another plan could answer by a scan,
   * is planned on every call instead: a sequential scan chosen while the table was tiny would
   * stay for every call of that connection until autovacuum analyzes the table. (Or it goes
   * into a function that turns sequential scans off for its own statements, as the store's
   * append and reads do, and the call of the function is prepared.)
   */
  prepare?: boolean;
  /**
   * timestamptz columns as the text toISOString prints (`2026-12-03T11:46:07.123Z`) instead of
   * Dates, where the client can tell it from the server's own text (PostgreSQL, a session in
   * UTC); else Dates as without it. For rows that become envelopes (toStoredEvent): a Date
   * parsed from the text and printed back per timestamp was ~2% of the API's main thread under
   * a load of POSTs.
   */
  isoTimestamps?: boolean;
}

/** What a transaction needs from the connection it runs on. */
export interface Statements {
  query<T>(text: string, params?: unknown[], options?: QueryOptions): Promise<{ rows: T[] }>;
  exec(script: string): Promise<void>;
  copyFrom?(statement: string, rows: Buffer): Promise<void>;
}

const COPY_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
};

/** A value as a field of COPY's text format: null as \N, a backslash, tab or line break escaped. */
function copyText(value: string | number | boolean | null): string {
  if (value === null) return '\\N';
  if (typeof value !== 'string') return String(value);
  // indexOf runs several times faster than a regular expression over a long text (a JSON state).
  if (
    value.indexOf('\\') < 0 &&
    value.indexOf('\t') < 0 &&
    value.indexOf('\n') < 0 &&
    value.indexOf('\r') < 0
  )
    return value;
  return value.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c]);
}

/**
 * Rows in COPY's text format for copyFrom, each field written straight into one buffer as UTF-8:
 * building the text as strings first (a string per row, then one for all) cost twice as much.
 */
export class CopyRows {
  private buffer = Buffer.allocUnsafe(1 << 16);
  private length = 0;

  /** Appends a field; `last` ends its row. */
  field(value: string | number | boolean | null, last = false): this {
    const text = copyText(value);
    // UTF-8 takes at most three bytes for each UTF-16 unit, plus the separator.
    const room = text.length * 3 + 1;
    if (this.length + room > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + room));
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    this.length += this.buffer.write(text, this.length);
    this.buffer[this.length++] = last ? 0x0a : 0x09;
    return this;
  }

  /** Appends a whole row. */
  row(...values: (string | number | boolean | null)[]): this {
    values.forEach((value, i) => this.field(value, i === values.length - 1));
    return this;
  }

  bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }
}

/** The client handed to a transaction's callback: every statement runs on its connection. */
export class TransactionClient implements SqlClient {
  private savepoints = 0;
  private closed = false;
  readonly copyFrom?: (statement: string, rows: Buffer) => Promise<void>;

  constructor(
    readonly engine: SqlClient['engine'],
    private readonly statements: Statements,
  ) {
    const copy = statements.copyFrom;
    if (copy)
      this.copyFrom = (statement, rows) => {
        this.assertOpen();
        return copy(statement, rows);
      };
  }

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
