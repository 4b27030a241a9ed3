import { EventEmitter } from 'node:events';
import {
  ConcurrencyError,
  NewEvent,
  SCHEMA_VERSION,
  StoredEvent,
  TrucelineError,
} from '@truceline/domain';
import { CatchUpSubscription } from './catch-up-subscription';
import {
  AppendOptions,
  AppendResult,
  BatchEventHandler,
  EventHandler,
  EventStore,
  ExpectedRevision,
  ReadAllOptions,
  ReadStreamOptions,
  Subscription,
  SubscriptionOptions,
} from './event-store.port';
import { EVENT_STORE_COMPONENT, EVENT_STORE_MIGRATIONS } from './event-store.schema';
import { migrate } from './sql/migrate';
import { isUniqueViolation, SqlClient } from './sql/sql-client';
import { COLUMNS, EventRow, toStoredEvent } from './event-row';
import { validateAppend } from './validate-append';

export interface SqlEventStoreOptions {
  /** The clock that stamps recordedAt: the app's clock, which may be an exercise clock (SPEC §2). */
  now?: () => Date;
}

/** PostgreSQL channel notified by every append, so subscribers in other processes wake at once. */
export const EVENTS_CHANNEL = 'truceline_events';

/**
 * Appends of one process wake subscribers at once through this signal, shared by every store
 * over the same SqlClient (embedded mode runs several services on one PGlite).
 */
const appendSignals = new WeakMap<SqlClient, EventEmitter>();
const signalOf = (sql: SqlClient): EventEmitter => {
  let signal = appendSignals.get(sql);
  if (!signal) {
    signal = new EventEmitter().setMaxListeners(0);
    appendSignals.set(sql, signal);
  }
  return signal;
};

/** How long readAll waits for appends in flight to settle before answering with what is safe. */
const IN_FLIGHT_WAIT_MS = 500;
const IN_FLIGHT_POLL_MS = 2;
const IN_FLIGHT_POLL_MAX_MS = 16;

/**
 * The event store over SQL, identical for PostgreSQL and PGlite.
 *
 * Appends run concurrently: an append locks only its own stream until COMMIT. Its global
 * positions come from a sequence, taken together with the transaction's id under a lock held
 * for a few microseconds (truceline_append in the schema), so among appends the order of
 * transaction ids is the order of positions, and commits of different streams group.
 *
 * Why readers never skip: positions are handed out before COMMIT, so position p + 1 may commit
 * while p is still in flight. A reader therefore takes only rows whose transaction id is below
 * the horizon — the lowest id of a transaction in flight in its snapshot. If it returns a row at
 * position p with transaction id x < horizon, every append holding a position below p took it
 * earlier, so got an id below x, so below the horizon: it has finished, and if it committed its
 * rows are visible in the same snapshot. What a reader sees is therefore always a gap-free
 * prefix of what will ever commit, in strictly increasing positions; a subscription's
 * checkpoint never passes a transaction in flight. (An append that fails after taking its
 * positions leaves a hole no row will ever fill; readers step over it.)
 */
export class SqlEventStore implements EventStore {
  private readonly now: () => Date;
  private readonly signal: EventEmitter;
  private readonly subscriptions = new Set<CatchUpSubscription>();
  private readonly wakeSubscriptions = () => this.subscriptions.forEach((sub) => sub.wake());
  private unlisten?: Promise<() => Promise<void>>;

  /** The SqlClient stays its opener's to close: projections may share it. */
  constructor(
    private readonly sql: SqlClient,
    options: SqlEventStoreOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
    this.signal = signalOf(sql);
    this.signal.on('appended', this.wakeSubscriptions);
  }

  async init(): Promise<void> {
    await migrate(this.sql, EVENT_STORE_COMPONENT, EVENT_STORE_MIGRATIONS);
  }

  async append(
    streamId: string,
    events: NewEvent[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    validateAppend(streamId, events);
    if (events.length === 0) return this.appendNothing(streamId, options);
    const recordedAt = this.now().toISOString();
    const data = events.map((event) => JSON.stringify(event.data));
    const metadata = events.map((event) => JSON.stringify(event.metadata));
    const payload = `[${events
      .map(
        (event, i) =>
          `{"id":${JSON.stringify(event.id)},"type":${JSON.stringify(event.type)},` +
          `"occurredAt":${JSON.stringify(event.occurredAt)},"data":${data[i]},"metadata":${metadata[i]}}`,
      )
      .join(',')}]`;
    const expected = String(options.expectedRevision);
    const call = (client: SqlClient) =>
      client.query<AppendRow>('SELECT * FROM truceline_append($1, $2, $3::jsonb, $4, $5)', [
        streamId,
        expected,
        payload,
        recordedAt,
        SCHEMA_VERSION,
      ]);
    let rows: AppendRow[];
    try {
      const { beforeCommit } = options;
      // One statement, one round trip; the test hook needs a transaction to hold open.
      rows = beforeCommit
        ? await this.sql.transaction(async (tx) => {
            const result = await call(tx);
            if (result.rows[0]?.outcome === 'appended') await beforeCommit();
            return result.rows;
          })
        : (await call(this.sql)).rows;
    } catch (error) {
      if (isUniqueViolation(error)) {
        // Only a writer that bypassed truceline_append, or one storing the same ids on another
        // stream at the same moment, can collide here; the caller still gets an answer it knows.
        const stored = await this.storedWithIds(events);
        if (stored.length > 0) return unlessError(duplicateOf(streamId, events, stored));
        const actual = await this.streamRevision(streamId);
        throw new ConcurrencyError(streamId, options.expectedRevision, actual);
      }
      throw error;
    }
    const [first] = rows;
    if (first.outcome === 'stored') {
      return unlessError(duplicateOf(streamId, events, rows.map(toStoredEvent)));
    }
    if (first.outcome === 'conflict') {
      throw new ConcurrencyError(streamId, options.expectedRevision, first.stream_revision);
    }
    const last = Number(first.position);
    const firstRevision = first.stream_revision as number;
    const stored: StoredEvent[] = events.map((event, i) => ({
      id: event.id,
      type: event.type,
      schemaVersion: SCHEMA_VERSION,
      streamId,
      revision: firstRevision + i,
      position: last - events.length + 1 + i,
      occurredAt: new Date(event.occurredAt).toISOString(),
      recordedAt,
      data: JSON.parse(data[i]) as unknown,
      metadata: JSON.parse(metadata[i]) as StoredEvent['metadata'],
    }));
    this.signal.emit('appended', last);
    this.notifyOtherProcesses();
    return {
      streamId,
      nextExpectedRevision: firstRevision + events.length - 1,
      position: last,
      events: stored,
      duplicate: false,
    };
  }

  /** An append of no events checks the expected revision and writes nothing. */
  private async appendNothing(streamId: string, options: AppendOptions): Promise<AppendResult> {
    const current = await this.streamRevision(streamId);
    if (!satisfies(options.expectedRevision, current)) {
      throw new ConcurrencyError(streamId, options.expectedRevision, current);
    }
    return {
      streamId,
      nextExpectedRevision: current ?? -1,
      position: await this.headPosition(),
      events: [],
      duplicate: false,
    };
  }

  private async storedWithIds(events: NewEvent[]): Promise<StoredEvent[]> {
    const { rows } = await this.sql.query<EventRow>(
      `SELECT ${COLUMNS} FROM events WHERE id = ANY($1::uuid[]) ORDER BY position`,
      [events.map((event) => event.id)],
    );
    return rows.map(toStoredEvent);
  }

  /**
   * Other processes' subscribers (PostgreSQL) learn of appends through NOTIFY, sent after the
   * append committed and coalesced: at most one in flight per client, plus one more if appends
   * committed meanwhile. A NOTIFY inside the append would serialize the commits of all appends
   * on the server's notification queue lock.
   */
  private notifyOtherProcesses(): void {
    if (!this.sql.listen) return;
    const state = notifyStates.get(this.sql) ?? { running: false, again: false };
    notifyStates.set(this.sql, state);
    if (state.running) {
      state.again = true;
      return;
    }
    state.running = true;
    const send = (): void => {
      state.again = false;
      this.sql
        .query('SELECT pg_notify($1, $2)', [EVENTS_CHANNEL, ''])
        .catch(() => undefined) // subscribers also poll
        .finally(() => {
          if (state.again) send();
          else state.running = false;
        });
    };
    send();
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<StoredEvent[]> {
    const { rows } = await this.sql.query<EventRow>(
      `SELECT ${COLUMNS} FROM events WHERE stream_id = $1 AND revision >= $2
       ORDER BY revision LIMIT $3::bigint`,
      [streamId, options.fromRevision ?? 0, options.limit ?? null],
    );
    return rows.map(toStoredEvent);
  }

  /**
   * Events in position order, only below the horizon of transactions in flight (see the class
   * comment). Committed rows above the horizon are waited for, briefly: a reader that calls
   * readAll after an append returned gets that append, even while other appends are in flight
   * (a paging reader, which gives a limit, gets what is safe at once and waits only when that
   * is nothing).
   */
  async readAll(options: ReadAllOptions = {}): Promise<StoredEvent[]> {
    const limit = options.limit ?? null;
    const until = options.until ?? null;
    const events: StoredEvent[] = [];
    let after = options.after ?? 0;
    let target: number | undefined;
    const deadline = Date.now() + IN_FLIGHT_WAIT_MS;
    for (let attempt = 0; ; attempt++) {
      const remaining = limit === null ? null : limit - events.length;
      const { rows } = await this.sql.query<EventRow & { head: string | null }>(
        attempt === 0 ? READ_ALL : READ_ALL_OTHER_DATABASES_IGNORED,
        [after, until, remaining],
      );
      target ??= rows.length > 0 && rows[0].head !== null ? Number(rows[0].head) : 0;
      for (const row of rows) if (row.position !== null) events.push(toStoredEvent(row));
      if (events.length > 0) after = events[events.length - 1].position;
      // A paging reader (limit given) comes back for the rest: it waits only for an empty page.
      const paged = limit !== null && events.length > 0;
      if (paged || after >= target || Date.now() >= deadline) return events;
      const backoff = Math.min(IN_FLIGHT_POLL_MS << attempt, IN_FLIGHT_POLL_MAX_MS);
      await new Promise((resolve) => setTimeout(resolve, backoff));
    }
  }

  async streamRevision(streamId: string): Promise<number | null> {
    const { rows } = await this.sql.query<{ revision: number }>(
      'SELECT revision FROM streams WHERE stream_id = $1',
      [streamId],
    );
    return rows.length > 0 ? rows[0].revision : null;
  }

  async headPosition(): Promise<number> {
    const { rows } = await this.sql.query<{ position: string | null }>(
      'SELECT max(position) AS position FROM events',
    );
    return Number(rows[0].position ?? 0);
  }

  async subscribe(
    handler: EventHandler | BatchEventHandler,
    options: SubscriptionOptions,
  ): Promise<Subscription> {
    if (this.sql.listen && !this.unlisten) {
      this.unlisten = this.sql.listen(EVENTS_CHANNEL, this.wakeSubscriptions);
      this.unlisten.catch(() => (this.unlisten = undefined)); // polling still covers it
    }
    const subscription = new CatchUpSubscription(this, handler, options, () =>
      this.subscriptions.delete(subscription),
    );
    this.subscriptions.add(subscription);
    await subscription.start();
    return subscription;
  }

  async readCheckpoint(subscriberId: string): Promise<number> {
    const { rows } = await this.sql.query<{ position: string }>(
      'SELECT position FROM checkpoints WHERE subscriber_id = $1',
      [subscriberId],
    );
    return rows.length > 0 ? Number(rows[0].position) : 0;
  }

  async writeCheckpoint(subscriberId: string, position: number): Promise<void> {
    await this.sql.query(
      `INSERT INTO checkpoints (subscriber_id, position, updated_at) VALUES ($1, $2, $3)
       ON CONFLICT (subscriber_id)
       DO UPDATE SET position = EXCLUDED.position, updated_at = EXCLUDED.updated_at`,
      [subscriberId, position, this.now().toISOString()],
    );
  }

  /** Stops this store's subscriptions (each finishing its in-flight event). */
  async close(): Promise<void> {
    this.signal.off('appended', this.wakeSubscriptions);
    await Promise.all([...this.subscriptions].map((subscription) => subscription.stop()));
    const unlisten = await this.unlisten?.catch(() => undefined);
    await unlisten?.();
  }
}

const satisfies = (expected: ExpectedRevision, current: number | null): boolean => {
  switch (expected) {
    case 'any':
      return true;
    case 'no-stream':
      return current === null;
    case 'exists':
      return current !== null;
    default:
      return current === expected;
  }
};

/** The original result of the same append repeated, else an idempotency conflict. */
function duplicateOf(
  streamId: string,
  events: NewEvent[],
  stored: StoredEvent[],
): TrucelineError | AppendResult {
  if (stored.length !== events.length || stored.some((event) => event.streamId !== streamId)) {
    // Some ids are stored, but this is not the same append: refusing beats half-applying it.
    return new TrucelineError(
      'idempotency-conflict',
      `append to ${streamId} reuses event ids already stored by a different append`,
      { streamId, storedIds: stored.map((event) => event.id) },
    );
  }
  const last = stored[stored.length - 1];
  return {
    streamId,
    nextExpectedRevision: last.revision,
    position: last.position,
    events: stored,
    duplicate: true,
  };
}

function unlessError(outcome: TrucelineError | AppendResult): AppendResult {
  if (outcome instanceof TrucelineError) throw outcome;
  return outcome;
}

interface AppendRow extends EventRow {
  outcome: 'stored' | 'conflict' | 'appended';
  stream_revision: number | null;
}

const notifyStates = new WeakMap<SqlClient, { running: boolean; again: boolean }>();

/**
 * Rows below the horizon: the lowest transaction id in flight in this statement's snapshot
 * (every id below it has finished). `head` (the highest committed position, in flight or not)
 * tells the caller whether committed rows were held back. One row with null columns when none.
 */
const READ_ALL = `
  SELECT h.head, e.*
  FROM (SELECT max(position) AS head, pg_snapshot_xmin(pg_current_snapshot()) AS horizon
        FROM events WHERE $2::bigint IS NULL OR position <= $2) h
  LEFT JOIN LATERAL (
    SELECT ${COLUMNS} FROM events
    WHERE position > $1 AND ($2::bigint IS NULL OR position <= $2) AND transaction_id < h.horizon
    ORDER BY position LIMIT $3::bigint
  ) e ON true`;

/**
 * The same with a finer horizon: transactions in flight in other databases of the server are
 * left out, since they cannot write these rows. A transaction not found in pg_stat_activity
 * (ended since, or hidden from this role) still counts: the horizon only errs low.
 */
const READ_ALL_OTHER_DATABASES_IGNORED = `
  WITH snapshot AS (SELECT pg_current_snapshot() AS s),
  elsewhere AS (
    SELECT backend_xid FROM pg_stat_activity
    WHERE backend_xid IS NOT NULL AND datname IS DISTINCT FROM current_database()
  ),
  horizon AS (
    SELECT coalesce(
      (SELECT min(x) FROM pg_snapshot_xip(s) AS x
       WHERE xid(x) NOT IN (SELECT backend_xid FROM elsewhere)),
      pg_snapshot_xmax(s)) AS horizon
    FROM snapshot
  )
  SELECT h.head, e.*
  FROM (SELECT max(position) AS head FROM events WHERE $2::bigint IS NULL OR position <= $2) h
  CROSS JOIN horizon
  LEFT JOIN LATERAL (
    SELECT ${COLUMNS} FROM events
    WHERE position > $1 AND ($2::bigint IS NULL OR position <= $2)
      AND transaction_id < horizon.horizon
    ORDER BY position LIMIT $3::bigint
  ) e ON true`;
