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

/** Thrown inside the append transaction to roll back the head update of a retried append. */
class DuplicateAppend {
  constructor(readonly result: AppendResult) {}
}

/**
 * The event store over SQL, identical for PostgreSQL and PGlite.
 *
 * Ordering guarantee: an append first bumps the single `log_head` row, whose row lock it holds
 * until COMMIT. Writers are therefore serialized, positions are handed out in commit order, and
 * a reader that sees position p has already seen every position below p: readAll and the
 * subscriptions never skip an event behind a transaction still in flight.
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
    let result: AppendResult;
    try {
      result = await this.sql.transaction((tx) => this.appendIn(tx, streamId, events, options));
    } catch (error) {
      if (error instanceof DuplicateAppend) return error.result;
      if (isUniqueViolation(error)) {
        // Only a writer that bypassed the head lock can collide here; the caller still gets the
        // conflict it knows how to retry, never a driver error.
        const actual = await this.streamRevision(streamId);
        throw new ConcurrencyError(streamId, options.expectedRevision, actual);
      }
      throw error;
    }
    if (result.events.length > 0) this.signal.emit('appended', result.position);
    return result;
  }

  private async appendIn(
    tx: SqlClient,
    streamId: string,
    events: NewEvent[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    // First statement: take the head lock (held until COMMIT) and reserve the positions.
    const { rows: heads } = await tx.query<{ position: string }>(
      'UPDATE log_head SET position = position + $1 RETURNING position',
      [events.length],
    );
    const last = Number(heads[0].position);
    // Stamped under the lock, so recordedAt follows position order as long as the clock does.
    const recordedAt = this.now().toISOString();

    // A retried append is answered before the revision check: a client retry never writes twice,
    // whatever expected revision it carries.
    if (events.length > 0) {
      const { rows } = await tx.query<EventRow>(
        `SELECT ${COLUMNS} FROM events WHERE id = ANY($1::uuid[]) ORDER BY position`,
        [events.map((event) => event.id)],
      );
      if (rows.length > 0) throw duplicateOf(streamId, events, rows.map(toStoredEvent));
    }

    const { rows: streams } = await tx.query<{ revision: number }>(
      'SELECT revision FROM streams WHERE stream_id = $1',
      [streamId],
    );
    const current = streams.length > 0 ? streams[0].revision : null;
    if (!satisfies(options.expectedRevision, current)) {
      throw new ConcurrencyError(streamId, options.expectedRevision, current);
    }
    const firstRevision = (current ?? -1) + 1;
    const firstPosition = last - events.length + 1;
    let stored: StoredEvent[] = [];
    if (events.length > 0) {
      const params: unknown[] = [streamId, recordedAt, SCHEMA_VERSION];
      const values = events.map((event, i) => {
        const at = params.push(
          firstPosition + i,
          event.id,
          firstRevision + i,
          event.type,
          event.occurredAt,
          JSON.stringify(event.data),
          JSON.stringify(event.metadata),
        );
        const p = (k: number) => `$${at - 7 + k}`;
        return `(${p(1)}::bigint, ${p(2)}::uuid, $1, ${p(3)}::integer, ${p(4)}, $3::integer, ${p(5)}::timestamptz, $2::timestamptz, ${p(6)}::jsonb, ${p(7)}::jsonb)`;
      });
      const { rows } = await tx.query<EventRow>(
        `INSERT INTO events (${COLUMNS}) VALUES ${values.join(', ')} RETURNING ${COLUMNS}`,
        params,
      );
      stored = rows.map(toStoredEvent).sort((a, b) => a.position - b.position);
      await tx.query(
        `INSERT INTO streams (stream_id, revision) VALUES ($1, $2)
         ON CONFLICT (stream_id) DO UPDATE SET revision = EXCLUDED.revision`,
        [streamId, firstRevision + events.length - 1],
      );
      // Delivered at COMMIT only, to the other processes' subscribers (PostgreSQL).
      if (this.sql.listen) await tx.query('SELECT pg_notify($1, $2)', [EVENTS_CHANNEL, `${last}`]);
    }
    await options.beforeCommit?.();
    return {
      streamId,
      nextExpectedRevision: firstRevision + events.length - 1,
      position: last,
      events: stored,
      duplicate: false,
    };
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<StoredEvent[]> {
    const { rows } = await this.sql.query<EventRow>(
      `SELECT ${COLUMNS} FROM events WHERE stream_id = $1 AND revision >= $2
       ORDER BY revision LIMIT $3::bigint`,
      [streamId, options.fromRevision ?? 0, options.limit ?? null],
    );
    return rows.map(toStoredEvent);
  }

  async readAll(options: ReadAllOptions = {}): Promise<StoredEvent[]> {
    const { rows } = await this.sql.query<EventRow>(
      `SELECT ${COLUMNS} FROM events WHERE position > $1 AND ($2::bigint IS NULL OR position <= $2)
       ORDER BY position LIMIT $3::bigint`,
      [options.after ?? 0, options.until ?? null, options.limit ?? null],
    );
    return rows.map(toStoredEvent);
  }

  async streamRevision(streamId: string): Promise<number | null> {
    const { rows } = await this.sql.query<{ revision: number }>(
      'SELECT revision FROM streams WHERE stream_id = $1',
      [streamId],
    );
    return rows.length > 0 ? rows[0].revision : null;
  }

  async headPosition(): Promise<number> {
    const { rows } = await this.sql.query<{ position: string }>('SELECT position FROM log_head');
    return Number(rows[0].position);
  }

  async subscribe(handler: EventHandler, options: SubscriptionOptions): Promise<Subscription> {
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

function duplicateOf(streamId: string, events: NewEvent[], stored: StoredEvent[]): unknown {
  if (stored.length !== events.length || stored.some((event) => event.streamId !== streamId)) {
    // Some ids are stored, but this is not the same append: refusing beats half-applying it.
    return new TrucelineError(
      'idempotency-conflict',
      `append to ${streamId} reuses event ids already stored by a different append`,
      { streamId, storedIds: stored.map((event) => event.id) },
    );
  }
  const last = stored[stored.length - 1];
  return new DuplicateAppend({
    streamId,
    nextExpectedRevision: last.revision,
    position: last.position,
    events: stored,
    duplicate: true,
  });
}
