import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { POLICY_STREAM, StoredEvent } from '@truceline/domain';
import { SqlClient, SqlEventStore, TransactionClient } from '@truceline/event-store';
import { AdoptedPolicy, PolicyRegistry } from './policy.registry';
import { checkpointOf, ProjectionDefinition } from './projection';
import { loadInParts } from './rebuild.parts';

/** How far a rebuild has come: events applied and events in the log up to its target. */
export interface RebuildProgress {
  projection: string;
  done: number;
  total: number;
  position: number;
}

export interface RebuildOptions {
  /** Events per page read and per transaction applied (default 5000). */
  batchSize?: number;
  onProgress?: (progress: RebuildProgress) => void;
  /**
   * The PostgreSQL server's URL. With it, a projection declared splitByStream is loaded in
   * `parts` worker threads at once, each on connections of its own; without it, and always on
   * the embedded store (one process's single connection: no other thread can reach it), in
   * this thread.
   */
  databaseUrl?: string;
  /** Parts of a split load (default: the cores this process may use, at most 4). */
  parts?: number;
}

export interface RebuildResult {
  projection: string;
  /** The last log position the rebuilt tables hold. */
  position: number;
  /** Events read and applied. */
  events: number;
  milliseconds: number;
}

const DEFAULT_BATCH = 5000;
/** Parts of a split load at most: beyond, the server's share of the work stops them gaining. */
const MAX_PARTS = 4;

/** A PostgreSQL identifier as an operator may name a schema: lower case, digits, underscores. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

const quoted = (identifier: string): string => `"${identifier.replace(/"/g, '""')}"`;

/**
 * A SqlClient whose statements resolve unqualified table names in `schemas`, the first one
 * first (tables are created there): a projection created over it reads and writes its tables
 * there, not the live ones. Every statement runs in a transaction that sets the search path
 * locally and puts it back before it ends, so the caller's own transaction (nested as a
 * savepoint) keeps its path.
 */
export function inSchema(sql: SqlClient, schemas: string | readonly string[]): SqlClient {
  const path = (typeof schemas === 'string' ? [schemas] : schemas).map(quoted).join(', ');
  // Inside a caller's transaction the path is put back at the end; a transaction of its own
  // ends with the path anyway (set_config's third argument: local to the transaction).
  const nested = sql instanceof TransactionClient;
  const transaction = <T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> =>
    sql.transaction(async (tx) => {
      const { rows } = await tx.query<{ path: string }>(
        "SELECT current_setting('search_path') AS path, set_config('search_path', $1, true)",
        [path],
      );
      const result = await fn(tx);
      if (nested) await tx.query("SELECT set_config('search_path', $1, true)", [rows[0].path]);
      return result;
    });
  return {
    engine: sql.engine,
    query: (text, params) => transaction((tx) => tx.query(text, params)),
    exec: (script) => transaction((tx) => tx.exec(script)),
    copyFrom: sql.copyFrom
      ? (statement, rows) =>
          transaction((tx) => (tx.copyFrom as NonNullable<SqlClient['copyFrom']>)(statement, rows))
      : undefined,
    transaction,
    close: () => Promise.reject(new Error('a schema-scoped client is closed with its base client')),
  };
}

/** The schema holding a projection's live tables (where its migrations created them). */
export async function liveSchemaOf(
  sql: SqlClient,
  definition: Pick<ProjectionDefinition, 'name' | 'tables'>,
): Promise<string> {
  const { rows } = await sql.query<{ schema: string | null }>(
    `SELECT n.nspname AS schema FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = to_regclass($1)`,
    [definition.tables[0]],
  );
  const schema = rows[0]?.schema;
  if (!schema) throw new Error(`the tables of projection ${definition.name} do not exist yet`);
  return schema;
}

export async function schemaExists(sql: SqlClient, schema: string): Promise<boolean> {
  const { rows } = await sql.query<{ found: boolean }>(
    'SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS found',
    [schema],
  );
  return rows[0].found;
}

/** The indexes of `tables` in `schema` that no constraint needs (qualified and own names, definitions). */
async function secondaryIndexes(
  sql: SqlClient,
  schema: string,
  tables: readonly string[],
): Promise<{ name: string; index: string; definition: string }[]> {
  const { rows } = await sql.query<{ name: string; index: string; definition: string }>(
    `SELECT format('%I.%I', n.nspname, ic.relname) AS name, ic.relname AS index,
            pg_get_indexdef(i.indexrelid) AS definition
       FROM pg_index i
       JOIN pg_class ic ON ic.oid = i.indexrelid
       JOIN pg_class c ON c.oid = i.indrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = ANY($2::text[])
        AND NOT i.indisunique AND NOT i.indisprimary
        AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)`,
    [schema, [...tables]],
  );
  return rows;
}

/** Events stored after `after` up to `until` (positions may have holes: a bar counts events). */
async function countBetween(sql: SqlClient, after: number, until: number): Promise<number> {
  const { rows } = await sql.query<{ n: string | number }>(
    'SELECT count(*) AS n FROM events WHERE position > $1 AND position <= $2',
    [after, until],
  );
  return Number(rows[0].n);
}

/**
 * Builds a projection's tables from the log into `schema` (created when missing; several
 * projections may share one, their tables differ): migrations, then every event up to `until`,
 * the next pages read while one is applied — by the projection's loader when it has one (rows
 * kept in memory across pages, written in large batches), else a page per transaction through
 * applyBatch. No service runs and nothing is appended: only those tables change. A table the
 * migrations create that is not among the projection's `tables` (a record it keeps across
 * rebuilds, such as where LogCheckpoint notices went) is not rebuilt: the build reads the live
 * one.
 */
export async function buildInto(
  sql: SqlClient,
  policies: PolicyRegistry,
  definition: ProjectionDefinition,
  schema: string,
  until: number,
  options: RebuildOptions = {},
): Promise<RebuildResult> {
  const started = Date.now();
  const live = await liveSchemaOf(sql, definition);
  await sql.exec(`CREATE SCHEMA IF NOT EXISTS ${quoted(schema)}`);
  const existing = new Set(await tablesOf(sql, schema));
  await inSchema(sql, schema).transaction(async (tx) => {
    for (const step of definition.migrations) await tx.exec(step);
  });
  for (const table of await tablesOf(sql, schema))
    if (!existing.has(table) && !definition.tables.includes(table))
      await sql.exec(`DROP TABLE ${quoted(schema)}.${quoted(table)}`);
  // Secondary indexes are built once at the end, not kept up to date row by row while loading,
  // but for those the projection's writes look rows up by.
  const deferred = (await secondaryIndexes(sql, schema, definition.tables)).filter(
    (index) => !definition.loadIndexes?.includes(index.index),
  );
  for (const index of deferred) await sql.exec(`DROP INDEX ${index.name}`);
  const scoped = inSchema(sql, [schema, live]);
  const store = new SqlEventStore(sql);
  const pump = new Pump(sql, definition.name, options);
  let position = 0;
  const parts = partsOf(sql, definition, options);
  if (parts > 1 && definition.splitByStream && options.databaseUrl) {
    // The parts read without the safe-prefix check: only up to where the log is final. The
    // rest, if a transaction was still in flight below `until`, goes the ordinary way below.
    const settled = await store.settledPosition(until);
    if (settled > 0) {
      await pump.begin(0, until);
      position = await loadInParts(
        {
          databaseUrl: options.databaseUrl,
          projection: definition.name,
          schema,
          live,
          count: parts,
          through: settled,
          span: (options.batchSize ?? DEFAULT_BATCH) * parts,
          empty: await tablesEmpty(sql, schema, definition.tables),
          policies: policies.held(),
        },
        (events) => pump.advance(events, settled),
      );
      // What the parts read of the policy stream is learnt here too, as the rest needs it.
      policies.remember(await adoptedUpTo(store, settled));
    }
  }
  const loader = position === 0 ? definition.loader?.(scoped, policies) : undefined;
  const projection = loader
    ? { applyBatch: (events: readonly StoredEvent[]) => loader.load(events) }
    : definition.create(scoped, policies);
  position = await pump.run(store, projection, position, until, { count: position === 0 });
  await loader?.finish();
  for (const index of deferred) await sql.exec(index.definition);
  // Statistics before the tables go live. Autovacuum analyzes a table only at its next round
  // (up to a minute on), and until then the planner knows nothing of the rows loaded here: it
  // read "key = ANY (a page's keys)" as most of the table and scanned all of it, on every page
  // of the live runner (the feeds' lookup of a page's ids: 40 ms over 60,000 items, where the
  // index answers in 1–3 ms). Not on PGlite: it has no autovacuum, so statistics taken here
  // would stay as they are for good — those of the empty tables of a first start made every
  // lookup of the embedded API a scan as the tables grew (POST 444 → 121 req/s, GET 1,298 →
  // 399 at 64 connections). Tables never analyzed are planned from their actual size.
  if (sql.engine === 'postgres')
    await sql.exec(
      `ANALYZE ${definition.tables.map((table) => `${quoted(schema)}.${quoted(table)}`).join(', ')}`,
    );
  return {
    projection: definition.name,
    position,
    events: pump.done,
    milliseconds: Date.now() - started,
  };
}

/** How many parts a load may be split in: one on the embedded store or without the server's URL. */
function partsOf(
  sql: SqlClient,
  definition: ProjectionDefinition,
  options: RebuildOptions,
): number {
  if (sql.engine !== 'postgres' || !options.databaseUrl || !definition.splitByStream) return 1;
  return Math.max(1, Math.floor(options.parts ?? Math.min(availableParallelism(), MAX_PARTS)));
}

/** Whether none of `tables` in `schema` has a row. */
async function tablesEmpty(
  sql: SqlClient,
  schema: string,
  tables: readonly string[],
): Promise<boolean> {
  for (const table of tables) {
    const { rows } = await sql.query<{ found: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM ${quoted(schema)}.${quoted(table)}) AS found`,
    );
    if (rows[0].found) return false;
  }
  return true;
}

/** The policy versions adopted on the log up to `position`, as the registry holds them. */
async function adoptedUpTo(store: SqlEventStore, position: number): Promise<AdoptedPolicy[]> {
  const registry = new PolicyRegistry(store);
  const events = await store.readStream(POLICY_STREAM);
  for (const event of events) if (event.position <= position) registry.apply(event);
  return registry.held();
}

async function tablesOf(sql: SqlClient, schema: string): Promise<string[]> {
  const { rows } = await sql.query<{ name: string }>(
    'SELECT tablename AS name FROM pg_tables WHERE schemaname = $1',
    [schema],
  );
  return rows.map((row) => row.name);
}

/**
 * Rebuilds a projection beside its live tables and swaps it in (blue/green) while the live
 * runner keeps applying new events to the old tables and the API keeps reading them:
 *
 * 1. builds fresh tables in a schema of their own up to the head (kept just behind the live
 *    runner's checkpoint), and catches up while the log grows;
 * 2. in one transaction: locks the live tables (the live runner's next write and readers wait
 *    for the commit, a few milliseconds), applies what was appended since to the new tables,
 *    moves the live tables out and the new ones in, drops the old ones, and advances the
 *    projection's checkpoint to what the new tables hold.
 *
 * Why nothing is applied twice or missed: while the lock is held the live runner cannot write,
 * so the live tables hold every event up to some position L that it read earlier; the log
 * reader only ever returns a gap-free prefix that grows, so the catch-up under the lock reaches
 * a position H ≥ L. After the swap the runner goes on from L: events up to H are skipped by the
 * projection's own idempotence (each row knows the position it applied), later ones applied.
 * On any failure the new schema is dropped and the live tables are left as they were.
 */
export async function rebuildProjection(
  sql: SqlClient,
  policies: PolicyRegistry,
  definition: ProjectionDefinition,
  options: RebuildOptions = {},
): Promise<RebuildResult> {
  const started = Date.now();
  const live = await liveSchemaOf(sql, definition);
  const shadow = `truceline_rebuild_${definition.name}_${randomBytes(4).toString('hex')}`;
  const retired = `${shadow}_retired`;
  const store = new SqlEventStore(sql);
  try {
    // Outside the lock the new tables stay behind the live runner's checkpoint: what the live
    // side records between events (the sealer places a LogCheckpoint notice after the feeds'
    // position) is then always ahead of the new tables, which put it back when they get there.
    const target = async (): Promise<number> => {
      const head = await store.headPosition();
      const checkpoint = await store.readCheckpoint(checkpointOf(definition));
      return checkpoint > 0 ? Math.min(head, checkpoint - 1) : head;
    };
    const built = await buildInto(sql, policies, definition, shadow, await target(), options);
    const pump = new Pump(sql, definition.name, options, built.events);
    const projection = definition.create(inSchema(sql, [shadow, live]), policies);
    let position = built.position;
    // Catch up outside the lock until what is left fits in one page.
    for (;;) {
      const until = await target();
      if (until - position <= (options.batchSize ?? DEFAULT_BATCH)) break;
      position = await pump.run(store, projection, position, until);
    }
    position = await retryOnDeadlock(() =>
      sql.transaction(async (tx) => {
        const tables = definition.tables.map((table) => `${quoted(live)}.${quoted(table)}`);
        await tx.exec(`LOCK TABLE ${tables.join(', ')} IN ACCESS EXCLUSIVE MODE`);
        // On the transaction's own connection: PGlite has no other while it is open.
        const reader = new SqlEventStore(tx);
        const caughtUp = definition.create(inSchema(tx, [shadow, live]), policies);
        const last = await pump.run(reader, caughtUp, position, Infinity, {
          count: false,
          readAhead: false,
        });
        await tx.exec(`CREATE SCHEMA ${quoted(retired)}`);
        for (const table of definition.tables)
          await tx.exec(
            `ALTER TABLE ${quoted(live)}.${quoted(table)} SET SCHEMA ${quoted(retired)}`,
          );
        for (const table of definition.tables)
          await tx.exec(
            `ALTER TABLE ${quoted(shadow)}.${quoted(table)} SET SCHEMA ${quoted(live)}`,
          );
        await tx.exec(
          `DROP SCHEMA ${quoted(retired)} CASCADE; DROP SCHEMA ${quoted(shadow)} CASCADE`,
        );
        await tx.query(
          `INSERT INTO checkpoints (subscriber_id, position, updated_at) VALUES ($1, $2, now())
         ON CONFLICT (subscriber_id) DO UPDATE
           SET position = greatest(checkpoints.position, EXCLUDED.position), updated_at = now()`,
          [checkpointOf(definition), last],
        );
        return last;
      }),
    );
    return {
      projection: definition.name,
      position,
      events: pump.done,
      milliseconds: Date.now() - started,
    };
  } catch (error) {
    await sql.exec(`DROP SCHEMA IF EXISTS ${quoted(shadow)} CASCADE`).catch(() => undefined);
    throw error;
  }
}

/**
 * The swap locks several tables while the live runner may hold one of them and want another:
 * PostgreSQL then aborts one of the two transactions. The runner retries its page; the swap is
 * tried again too (its rollback undid the catch-up it did under the lock).
 */
async function retryOnDeadlock<T>(swap: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await swap();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code !== '40P01' || attempt >= attempts) throw error;
    }
  }
}

/** Pages read ahead of the one being applied. */
export const READ_AHEAD = 2;

/** A page of the log: its events, and the position up to which it covers the log. */
export interface Page {
  events: StoredEvent[];
  through: number;
}

/**
 * Reads pages of the log one after the other, up to `depth` ahead of the consumer: the rows of
 * the next pages arrive and are decoded while a page is being applied (the database writing
 * one page, Node decoding the next, instead of one waiting for the other).
 */
export class PageReader {
  private readonly ready: Page[] = [];
  private reading = false;
  private ended = false;
  private failure: { error: unknown } | null = null;
  private wake: () => void = () => undefined;

  /** `read(after)`: the page after `after`, null at the end. */
  constructor(
    private readonly read: (after: number) => Promise<Page | null>,
    private after: number,
    private readonly depth: number,
  ) {
    this.fill();
  }

  /** The next page; null at the end. */
  async next(): Promise<Page | null> {
    for (;;) {
      const page = this.ready.shift();
      if (page) {
        this.fill();
        return page;
      }
      if (this.failure) throw this.failure.error;
      if (this.ended) return null;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private fill(): void {
    if (this.reading || this.ended || this.ready.length >= this.depth) return;
    this.reading = true;
    this.read(this.after)
      .then(
        (page) => {
          if (page === null) this.ended = true;
          else {
            this.after = page.through;
            this.ready.push(page);
          }
        },
        (error: unknown) => {
          this.failure = { error };
          this.ended = true;
        },
      )
      .finally(() => {
        this.reading = false;
        this.fill();
        this.wake();
      });
  }
}

/** Reads pages of the log and applies them, the next pages read while one is applied. */
class Pump {
  private total = 0;

  constructor(
    private readonly sql: SqlClient,
    private readonly name: string,
    private readonly options: RebuildOptions,
    public done = 0,
  ) {}

  /** Counts the events after `after` up to `bound` for the progress report, and reports. */
  async begin(after: number, bound: number): Promise<void> {
    if (!this.options.onProgress) return;
    this.total = this.done + (await countBetween(this.sql, after, bound));
    this.report(after);
  }

  /** `events` more applied, up to `position`. */
  advance(events: number, position: number): void {
    this.done += events;
    this.total = Math.max(this.total, this.done);
    this.report(position);
  }

  /**
   * Applies the events after `after` up to `until` (Infinity: the head when the run starts);
   * returns the last position applied. `count` reads the total for the progress report first;
   * `readAhead: false` reads only after the page is applied — on one transaction's connection
   * a read must not run between the statements of an apply (they set the search path).
   */
  async run(
    store: Pick<SqlEventStore, 'readAllForReplay' | 'headPosition'>,
    projection: { applyBatch(events: readonly StoredEvent[]): Promise<void> },
    after: number,
    until: number,
    { count = true, readAhead = true } = {},
  ): Promise<number> {
    const limit = this.options.batchSize ?? DEFAULT_BATCH;
    // The head when the run starts: appends keep coming, a run chasing them would never end.
    const bound = Number.isFinite(until) ? until : await store.headPosition();
    if (count) await this.begin(after, bound);
    const read = async (from: number): Promise<Page | null> => {
      const events = await store.readAllForReplay({ after: from, limit, until: bound });
      return events.length === 0 ? null : { events, through: events[events.length - 1].position };
    };
    const pages = readAhead ? new PageReader(read, after, READ_AHEAD) : null;
    let position = after;
    for (;;) {
      const page = pages ? await pages.next() : await read(position);
      if (page === null) return position;
      await projection.applyBatch(page.events);
      position = page.through;
      this.advance(page.events.length, position);
    }
  }

  private report(position: number): void {
    this.options.onProgress?.({
      projection: this.name,
      done: this.done,
      total: this.total,
      position,
    });
  }
}
