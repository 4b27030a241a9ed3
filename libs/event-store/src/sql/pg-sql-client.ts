import { Client, Connection, Pool, PoolClient, QueryConfig, types } from 'pg';
import { QueryOptions, SqlClient, TransactionClient } from './sql-client';

export interface PgSqlClientOptions {
  /** Connections in the pool; concurrent appends each hold one until they commit. */
  poolSize?: number;
}

/** SqlClient over a `pg` pool: every transaction gets a dedicated connection. */
export class PgSqlClient implements SqlClient {
  readonly engine = 'postgres' as const;
  private readonly pool: Pool;
  private listener?: NotificationListener;
  /** Prepared statements by text: a name each, the same on every connection of the pool. */
  private readonly names = new Map<string, string>();
  /** What statementOf gives pg for each prepared statement, without and with ISO_TIMESTAMPS. */
  private readonly prepared = new Map<string, QueryConfig>();
  private readonly preparedIso = new Map<string, QueryConfig>();

  private constructor(
    private readonly connectionString: string,
    options: PgSqlClientOptions,
  ) {
    this.pool = new Pool({ connectionString, max: options.poolSize ?? 10 });
    // An idle connection that dies (server restart, DROP DATABASE … FORCE) is discarded by the
    // pool and replaced on next use; without a listener the error would crash the process.
    this.pool.on('error', () => undefined);
  }

  /** Opens the pool and checks the server answers, so a bad URL fails at boot, not later. */
  static async connect(
    connectionString: string,
    options: PgSqlClientOptions = {},
  ): Promise<PgSqlClient> {
    const client = new PgSqlClient(connectionString, options);
    try {
      await client.query('SELECT 1');
    } catch (error) {
      await client.close();
      throw error;
    }
    return client;
  }

  async query<T = Record<string, unknown>>(
    text: string,
    params?: unknown[],
    options?: QueryOptions,
  ): Promise<{ rows: T[] }> {
    const result = await this.pool.query(this.statementOf(text, options), params);
    return { rows: result.rows as T[] };
  }

  /**
   * What pg is given for a statement, its values passed beside it. pg copies the config of every
   * query by its own property descriptors (cloneQueryConfig), ~1% of the API's main thread under
   * a load of reports: a prepared statement's is made once, its fields on its prototype, so the
   * copy (which keeps the prototype) has no property to copy.
   */
  private statementOf(text: string, options?: QueryOptions): string | QueryConfig {
    const parsers = options?.isoTimestamps ? ISO_TIMESTAMPS : undefined;
    if (!options?.prepare) return parsers ? { text, types: parsers } : text;
    const statements = parsers ? this.preparedIso : this.prepared;
    let statement = statements.get(text);
    if (!statement) {
      let name = this.names.get(text);
      if (!name) this.names.set(text, (name = `truceline_${this.names.size + 1}`));
      statement = Object.freeze(Object.create({ name, text, types: parsers }) as QueryConfig);
      statements.set(text, statement);
    }
    return statement;
  }

  async exec(script: string): Promise<void> {
    // Without parameters pg uses the simple query protocol, which accepts several statements.
    await this.pool.query(script);
  }

  async copyFrom(statement: string, rows: Buffer): Promise<void> {
    const connection = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await copyIn(connection, statement, rows);
    } catch (error) {
      broken = error as Error;
      throw error;
    } finally {
      connection.release(broken);
    }
  }

  async transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    const connection = await this.pool.connect();
    const tx = new TransactionClient(this.engine, {
      query: async <R>(text: string, params?: unknown[], options?: QueryOptions) => ({
        rows: (await connection.query(this.statementOf(text, options), params)).rows as R[],
      }),
      exec: async (script: string) => {
        await connection.query(script);
      },
      copyFrom: (statement: string, rows: Buffer) => copyIn(connection, statement, rows),
    });
    let broken: Error | undefined;
    try {
      await connection.query('BEGIN');
      const result = await fn(tx);
      await connection.query('COMMIT');
      return result;
    } catch (error) {
      await connection.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError; // the connection is unusable: destroy it rather than reuse it
      });
      throw error;
    } finally {
      tx.end();
      connection.release(broken);
    }
  }

  async listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    this.listener ??= new NotificationListener(this.connectionString);
    return this.listener.add(channel, onNotify);
  }

  async close(): Promise<void> {
    await this.listener?.close();
    await this.pool.end();
  }
}

const TIMESTAMPTZ = 1184;

/**
 * A timestamptz as the server prints it in UTC with DateStyle ISO (`2026-12-03 11:46:07.123456+00`,
 * up to six digits of fraction): its date, time and milliseconds.
 */
const SERVER_UTC = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?\+00$/;

/**
 * toISOString of the Date pg would parse from `text`, without the Date: the fraction cut to
 * milliseconds as that Date keeps them. Any other text (another time zone or DateStyle, a year
 * past 9999, infinity) is parsed by pg's own parser, to a Date.
 */
const isoOfTimestamptz = (parse: (text: string) => unknown) => (text: string) => {
  const match = SERVER_UTC.exec(text);
  if (!match) return parse(text);
  const fraction = match[3] === undefined ? '000' : (match[3] + '00').slice(0, 3);
  return `${match[1]}T${match[2]}.${fraction}Z`;
};

/** pg's parsers with timestamptz printed as toISOString prints it (QueryOptions.isoTimestamps). */
const ISO_TIMESTAMPS = (() => {
  const timestamptz = isoOfTimestamptz(types.getTypeParser(TIMESTAMPTZ, 'text'));
  return {
    getTypeParser: (oid: number, format?: 'text' | 'binary') =>
      oid === TIMESTAMPTZ && format !== 'binary'
        ? timestamptz
        : types.getTypeParser(oid, format as 'text'),
  };
})();

/** What pg's connection offers for COPY FROM STDIN (not in its type declarations). */
interface CopyWire {
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
}

/**
 * `COPY … FROM STDIN` on `connection`, `rows` sent as one message once the server asks for
 * them. Settles on the server's error, else once the connection is ready for the next statement.
 */
function copyIn(connection: PoolClient, statement: string, rows: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    let failure: Error | null = null;
    connection.query({
      submit: (wire: Connection) => wire.query(statement),
      handleCopyInResponse: (wire: Connection) => {
        const copy = wire as unknown as CopyWire;
        copy.sendCopyFromChunk(rows);
        copy.endCopyFrom();
      },
      handleError: (error: Error) => {
        failure ??= error;
        reject(error);
      },
      handleReadyForQuery: () => (failure ? reject(failure) : resolve()),
      handleCommandComplete: () => undefined,
      handleRowDescription: () => undefined,
      handleDataRow: () => undefined,
      handleEmptyQuery: () => undefined,
      handlePortalSuspended: () => undefined,
      handleCopyData: () => undefined,
    });
  });
}

type Callback = (payload: string) => void;

/**
 * One dedicated connection (LISTEN needs a session of its own, outside the pool) shared by every
 * channel. If it drops it reconnects; notifications missed meanwhile only cost latency, because
 * subscribers also poll.
 */
class NotificationListener {
  private readonly callbacks = new Map<string, Set<Callback>>();
  private client?: Promise<Client>;
  private current?: Client;
  private closed = false;
  private retry?: NodeJS.Timeout;

  constructor(private readonly connectionString: string) {}

  async add(channel: string, callback: Callback): Promise<() => Promise<void>> {
    const client = await this.connection();
    let set = this.callbacks.get(channel);
    if (!set) {
      set = new Set();
      this.callbacks.set(channel, set);
      await client.query(`LISTEN ${quoteIdentifier(channel)}`);
    }
    set.add(callback);
    return async () => {
      set.delete(callback);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    const client = await this.client?.catch(() => undefined);
    await client?.end().catch(() => undefined);
  }

  private connection(): Promise<Client> {
    this.client ??= this.open();
    return this.client;
  }

  private async open(): Promise<Client> {
    const client = new Client({ connectionString: this.connectionString });
    client.on('notification', (message) => {
      for (const callback of this.callbacks.get(message.channel) ?? []) {
        callback(message.payload ?? '');
      }
    });
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      for (const channel of this.callbacks.keys()) {
        await client.query(`LISTEN ${quoteIdentifier(channel)}`);
      }
    } catch (error) {
      this.client = undefined;
      await client.end().catch(() => undefined);
      throw error;
    }
    this.current = client;
    return client;
  }

  private lost(client: Client): void {
    if (client !== this.current) return;
    this.current = undefined;
    this.client = undefined;
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (this.closed) return;
      this.connection().catch(() => this.scheduleReconnect());
    }, 1000);
    this.retry.unref();
  }
}

const quoteIdentifier = (name: string): string => `"${name.replace(/"/g, '""')}"`;
