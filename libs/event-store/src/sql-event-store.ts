import { EventEmitter } from 'node:events';
import {
  ConcurrencyError,
  NewEvent,
  SCHEMA_VERSION,
  StoredEvent,
  TrucelineError,
} from '@truceline/domain';
import { CatchUpSubscription } from './catch-up-subscription';
import { CheckpointWriter } from './checkpoint-writer';
import { SharedLogReader } from './shared-log-reader';
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
import { NotifyAfterCommit } from './sql/notify-after-commit';
import { quotedElement as quoted } from './sql/array-literal';
import {
  asRequest,
  inBackground,
  isBackgroundWork,
  PgliteSqlClient,
  promotable,
} from './sql/pglite-sql-client';
import { isUniqueViolation, SqlClient } from './sql/sql-client';
import {
  COLUMNS,
  EventRow,
  JSON_TEXT_COLUMNS,
  REPLAY_COLUMNS,
  ReplayRow,
  replayEventOf,
  StoredEventJsonText,
  toStoredEvent,
  toStoredEventJsonText,
} from './event-row';

export type { StoredEventJsonText } from './event-row';
import { validateAppend } from './validate-append';

export interface SqlEventStoreOptions {
  /** The clock that stamps recordedAt: the app's clock, which may be an exercise clock (SPEC §2). */
  now?: () => Date;
  /**
   * Groups of appends in flight at once (default 3 on PostgreSQL, 1 on PGlite, which runs one
   * statement at a time anyway). Appends arriving meanwhile wait and go as one group.
   */
  appendConcurrency?: number;
}

/**
 * Who is told of the appends committed on each embedded database (see onCommitted), shared by
 * every store over the same client, as the signal below is.
 */
const committedListeners = new WeakMap<SqlClient, Set<(events: readonly StoredEvent[]) => void>>();

/** A listener's failure is its own: the append it is told of has committed all the same. */
function tell(listener: (events: readonly StoredEvent[]) => void, events: StoredEvent[]): void {
  try {
    listener(events);
  } catch (error) {
    console.error('a listener of committed appends failed', error);
  }
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
 * for a few microseconds (truceline_append_columns in the schema), so among appends the order of
 * transaction ids is the order of positions, and commits of different streams group.
 *
 * Appends that arrive while `appendConcurrency` others are in flight wait, and go together as
 * one group: one statement, one transaction, one commit, each append keeping its own expected
 * revision check and outcome. Under load this is what keeps the server's work per event near
 * that of a plain INSERT: eight transactions each taking the position lock in turn cost the
 * server about twice the CPU per event of four carrying two appends each, and four a tenth more
 * than three (8 writers on 2 cores, batches of 1 and of 10).
 *
 * Why readers never skip: positions are handed out before COMMIT, so position p + 1 may commit
 * while p is still in flight. A reader therefore takes a row only when nothing below it can
 * still commit, which it knows in one of two ways:
 * - the row's position follows right after the last row taken (or the reader's starting point):
 *   there is no position between them for a transaction in flight to hold. This is the usual
 *   case, and it holds whatever else is in flight on the server;
 * - the row's transaction id is below the horizon, the lowest id of a transaction in flight in
 *   the reader's snapshot. Every append holding a position below the row's took it earlier, so
 *   got an id below the row's, so below the horizon: it has finished, and if it committed its
 *   rows are visible in the same snapshot. (An append that failed after taking its positions
 *   leaves a hole no row will ever fill; this is how readers step over it.)
 * A reader stops at the first row that is neither. What it sees is therefore always a gap-free
 * prefix of what will ever commit, in strictly increasing positions; a subscription's
 * checkpoint never passes a transaction in flight. (By the horizon alone, every transaction in
 * flight anywhere on the server — a projection's, the sealer's — would hold back the rows
 * committed after it began.)
 */
export class SqlEventStore implements EventStore {
  private readonly now: () => Date;
  private readonly signal: EventEmitter;
  private readonly subscriptions = new Set<CatchUpSubscription>();
  private readonly wakeSubscriptions = () => {
    this.log.wake();
    this.subscriptions.forEach((sub) => sub.wake());
  };
  /**
   * The log as this process's readers page through it: one read shared by every subscription
   * (and the sealer, which is handed it), instead of one each after every append.
   */
  readonly log: SharedLogReader;
  /** Every subscription's checkpoint, written together (see CheckpointWriter). */
  private readonly checkpoints: CheckpointWriter;
  private unlisten?: Promise<() => Promise<void>>;
  private readonly appendConcurrency: number;
  /** PGlite: requests and background work take turns on its one connection (inBackground). */
  private readonly embedded: boolean;
  private queue: PendingAppend[] = [];
  private inFlight = 0;

  /** The SqlClient stays its opener's to close: projections may share it. */
  constructor(
    private readonly sql: SqlClient,
    options: SqlEventStoreOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
    this.embedded = sql.engine === 'pglite';
    this.appendConcurrency = options.appendConcurrency ?? (this.embedded ? 1 : 3);
    this.signal = signalOf(sql);
    this.signal.on('appended', this.wakeSubscriptions);
    this.log = new SharedLogReader(this, this.embedded ? { promotable } : {});
    if (sql instanceof PgliteSqlClient)
      this.onCommitted = (listener) => {
        const listeners = this.committed();
        listeners.add(listener);
        return () => listeners.delete(listener);
      };
    this.checkpoints = new CheckpointWriter(sql, { now: () => this.now() });
  }

  async init(): Promise<void> {
    await migrate(this.sql, EVENT_STORE_COMPONENT, EVENT_STORE_MIGRATIONS);
  }

  /**
   * On the embedded store only: PGlite's database belongs to this one process, every append of
   * it goes through a store over its client, and each of those tells the listeners of them all.
   * (A store over a transaction's client, which only rebuilds read through, tells no one: its
   * appends would commit, or not, with that transaction.) Undefined on PostgreSQL.
   */
  readonly onCommitted?: (listener: (events: readonly StoredEvent[]) => void) => () => void;

  private committed(): Set<(events: readonly StoredEvent[]) => void> {
    let listeners = committedListeners.get(this.sql);
    if (!listeners) committedListeners.set(this.sql, (listeners = new Set()));
    return listeners;
  }

  async append(
    streamId: string,
    events: NewEvent[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    const ids = validateAppend(streamId, events);
    if (events.length === 0) return this.appendNothing(streamId, options);
    const pending: PendingAppend = {
      streamId,
      events,
      ids,
      options,
      recordedAt: this.now().toISOString(),
      data: events.map((event) => JSON.stringify(event.data)),
      metadata: events.map((event) => JSON.stringify(event.metadata)),
      background: this.embedded && isBackgroundWork(),
      result: deferred(),
    };
    const { beforeCommit } = options;
    if (beforeCommit) {
      // The test hook needs a transaction of its own to hold open.
      this.sendAlone(pending, async (rows, tx) => {
        if (rows.some((row) => row.outcome === 'appended')) await beforeCommit();
        return tx;
      });
    } else {
      this.queue.push(pending);
      this.sendQueued();
    }
    return pending.result.promise;
  }

  /**
   * Sends what waits in the queue as one group, unless `appendConcurrency` groups are in flight
   * already: then the queue grows until one returns, and goes as the next group. A lone append
   * goes at once; under load, appends share a statement, a transaction and a commit. Two appends
   * to one stream never share a group (the second's expected revision is checked against the
   * first's outcome), nor two carrying one event id (the second is answered as a retry, rather
   * than failing the whole group): a group takes the queue in order, leaving those for the next.
   */
  private sendQueued(): void {
    while (this.queue.length > 0 && this.inFlight < this.appendConcurrency) {
      const group: PendingAppend[] = [];
      const streams = new Set<string>();
      const ids = new Set<string>();
      const later: PendingAppend[] = [];
      let events = 0;
      let guardStream: string | undefined;
      for (const pending of this.queue) {
        const full =
          group.length > 0 &&
          (group.length >= GROUP_MAX_APPENDS || events + pending.events.length > GROUP_MAX_EVENTS);
        // One guard stream a group (one probe of it): in practice the policy stream or none. An
        // append to the guard stream (an adoption) never shares a group with appends it guards:
        // they would read the guard before the group's insert and pass, stored after it.
        const guard = pending.options.guard?.streamId;
        const otherGuard =
          guard !== undefined &&
          ((guardStream !== undefined && guard !== guardStream) || streams.has(guard));
        const guardOfGroup = pending.streamId === guardStream;
        if (
          full ||
          otherGuard ||
          guardOfGroup ||
          streams.has(pending.streamId) ||
          sharesAny(ids, pending.ids)
        ) {
          later.push(pending);
          continue;
        }
        group.push(pending);
        guardStream ??= guard;
        streams.add(pending.streamId);
        for (const id of pending.ids) ids.add(id);
        events += pending.events.length;
      }
      this.queue = later;
      this.inFlight++;
      // Embedded, a group goes as the most urgent of its appends: a request's append that
      // waited for the group in flight must not become background work because a background
      // append (a service's reaction) started the chain of groups, whose context every next
      // one inherits. (On PostgreSQL the pool serves both at once, and marking a context would
      // only turn on async-context hooks for every promise of the process.)
      const send = () => this.sendGroup(group);
      const sent = !this.embedded
        ? send()
        : group.some((pending) => !pending.background)
          ? asRequest(send)
          : inBackground(send);
      void sent.finally(() => {
        this.inFlight--;
        this.sendQueued();
      });
    }
  }

  private async sendGroup(group: PendingAppend[]): Promise<void> {
    let rows: AppendRow[];
    try {
      rows = (await this.callAppend(this.sql, group)).rows;
    } catch (error) {
      if (group.length === 1) return this.failed(group[0], error);
      // One append's failure (ids stored on another stream, found by the insert's unique index
      // for an append that creates its stream, or stored meanwhile by a concurrent append)
      // rolled back the whole group: each goes again alone, so only that one sees its error.
      await Promise.all(group.map((pending) => this.sendAlone(pending)));
      return;
    }
    this.settle(group, rows);
  }

  /** One append in a transaction of its own; `inside` runs before COMMIT. */
  private async sendAlone(
    pending: PendingAppend,
    inside?: (rows: AppendRow[], tx: SqlClient) => Promise<unknown>,
  ): Promise<void> {
    let rows: AppendRow[];
    try {
      rows = inside
        ? await this.sql.transaction(async (tx) => {
            const result = await this.callAppend(tx, [pending]);
            await inside(result.rows, tx);
            return result.rows;
          })
        : (await this.callAppend(this.sql, [pending])).rows;
    } catch (error) {
      return this.failed(pending, error);
    }
    this.settle([pending], rows);
  }

  /**
   * The group as the append function's columns: one array per append field and event field,
   * each written here as its array literal (pg would quote every element with two regular
   * expressions), and the events' data and metadata as one JSON array each, their JSON texts
   * joined as they are. Event ids are UUIDs (validateAppend) and recordedAt is toISOString's:
   * neither holds a character a literal quotes.
   */
  private callAppend(client: SqlClient, group: PendingAppend[]) {
    let streams = '';
    let expected = '';
    let recordedAt = '';
    let counts = '';
    let owners = '';
    let ids = '';
    let types = '';
    let occurredAt = '';
    let data = '';
    let metadata = '';
    let guardStream: string | null = null;
    let guards = '';
    let n = 0;
    group.forEach((pending, i) => {
      const comma = i === 0 ? '' : ',';
      const { guard } = pending.options;
      if (guard) guardStream = guard.streamId;
      guards += comma + (guard ? String(guard.revision) : 'NULL');
      streams += comma + quoted(pending.streamId);
      expected += comma + quoted(String(pending.options.expectedRevision));
      recordedAt += comma + pending.recordedAt;
      counts += comma + pending.events.length;
      pending.events.forEach((event, j) => {
        const next = n++ === 0 ? '' : ',';
        owners += next + (i + 1);
        ids += next + event.id;
        types += next + quoted(event.type);
        occurredAt += next + quoted(event.occurredAt);
        data += next + pending.data[j];
        metadata += next + pending.metadata[j];
      });
    });
    return client.query<AppendRow>(
      APPEND,
      [
        `{${streams}}`,
        `{${expected}}`,
        `{${recordedAt}}`,
        `{${counts}}`,
        `{${owners}}`,
        `{${ids}}`,
        `{${types}}`,
        `{${occurredAt}}`,
        `[${data}]`,
        `[${metadata}]`,
        SCHEMA_VERSION,
        guardStream,
        `{${guards}}`,
      ],
      { prepare: true },
    );
  }

  /** Answers each append of a group from its rows, then wakes subscribers once. */
  private settle(group: PendingAppend[], rows: AppendRow[]): void {
    const byAppend = new Map<number, AppendRow[]>();
    for (const row of rows) {
      const list = byAppend.get(row.append_index);
      if (list) list.push(row);
      else byAppend.set(row.append_index, [row]);
    }
    let head = 0;
    const listeners = committedListeners.get(this.sql);
    group.forEach((pending, i) => {
      try {
        const result = this.outcomeOf(pending, byAppend.get(i + 1) ?? []);
        if (!result.duplicate) {
          head = Math.max(head, result.position);
          listeners?.forEach((listener) => tell(listener, result.events));
        }
        pending.result.resolve(result);
      } catch (error) {
        pending.result.reject(error);
      }
    });
    if (head > 0) {
      this.signal.emit('appended', head);
      this.notifyOtherProcesses();
    }
  }

  private outcomeOf(pending: PendingAppend, rows: AppendRow[]): AppendResult {
    const { streamId, events, options } = pending;
    const [first] = rows;
    if (!first) throw new Error(`append to ${streamId}: the store answered nothing`);
    if (first.outcome === 'stored') {
      return unlessError(duplicateOf(streamId, events, rows.map(storedEventOf)));
    }
    if (first.outcome === 'conflict') {
      throw new ConcurrencyError(streamId, options.expectedRevision, first.stream_revision);
    }
    if (first.outcome === 'guard-moved' && options.guard) {
      const { guard } = options;
      throw new ConcurrencyError(guard.streamId, guard.revision, first.stream_revision);
    }
    const last = Number(first.position);
    const firstRevision = first.stream_revision as number;
    const stored: StoredEvent[] = events.map((event, i) =>
      appendedEvent(
        event,
        streamId,
        firstRevision + i,
        last - events.length + 1 + i,
        pending.recordedAt,
        pending.data[i],
        pending.metadata[i],
      ),
    );
    return {
      streamId,
      nextExpectedRevision: firstRevision + events.length - 1,
      position: last,
      events: stored,
      duplicate: false,
    };
  }

  /** An append that failed on its own: a unique violation still gets an answer it knows. */
  private async failed(pending: PendingAppend, error: unknown): Promise<void> {
    const { streamId, events, options } = pending;
    try {
      if (!isUniqueViolation(error)) throw error;
      // Only a writer that bypassed the append function, one storing the same ids on another
      // stream at the same moment, or an append creating its stream with ids stored on another
      // (the function looks those up only by inserting them) can collide here.
      const stored = await this.storedWithIds(events);
      if (stored.length > 0) {
        pending.result.resolve(unlessError(duplicateOf(streamId, events, stored)));
        return;
      }
      const actual = await this.streamRevision(streamId);
      throw new ConcurrencyError(streamId, options.expectedRevision, actual);
    } catch (failure) {
      pending.result.reject(failure);
    }
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
      { isoTimestamps: true },
    );
    return rows.map(toStoredEvent);
  }

  /** Other processes' subscribers (PostgreSQL) learn of appends through NOTIFY after commit. */
  private notifyOtherProcesses(): void {
    notifierOf(this.sql).send();
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<StoredEvent[]> {
    const { rows } = await this.sql.query<EventRow>(
      this.embedded ? READ_STREAM_EMBEDDED : 'SELECT * FROM truceline_read_stream($1, $2, $3)',
      [streamId, options.fromRevision ?? 0, options.limit ?? null],
      // A function's plan, made once with every lookup along its index (see the schema).
      { prepare: true, isoTimestamps: true },
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
  readAll(options: ReadAllOptions = {}): Promise<StoredEvent[]> {
    return this.readSafePrefix(
      options,
      this.embedded
        ? { text: READ_ALL_EMBEDDED, prepare: true }
        : { text: READ_ALL, prepare: true },
      READ_ALL_OTHER_DATABASES_IGNORED,
      toStoredEvent,
    );
  }

  /**
   * readAll with each event's data and metadata as JSON text, for a reader that parses them one
   * event at a time (the log's sealer, on a thread of its own): the same events, the same safe
   * prefix. The statement is planned for each call, with its values, always along the log's
   * index; the function readAll calls costs the server a fifth more per row (it scans the
   * page twice and keeps it in a tuplestore), which a reader of 500-event pages need not pay.
   */
  readAllJsonText(options: ReadAllOptions = {}): Promise<StoredEventJsonText[]> {
    return this.readSafePrefix(
      options,
      { text: JSON_TEXT_READ, prepare: false },
      JSON_TEXT_READ_OTHER_DATABASES_IGNORED,
      toStoredEventJsonText,
    );
  }

  /**
   * readAll for a replay, which reads the whole log in large pages: the same events, with the
   * timestamps printed by the server as readAll's Dates print them (toISOString) instead of a
   * Date parsed and printed per value — on a long read, a third of the decoding.
   */
  readAllForReplay(options: ReadAllOptions = {}): Promise<StoredEvent[]> {
    return this.readSafePrefix(
      options,
      { text: REPLAY_READ, prepare: false },
      REPLAY_READ_OTHER_DATABASES_IGNORED,
      replayEventOf,
    );
  }

  /**
   * The highest position at or below `until` up to which the log is final: every transaction
   * that could still commit a row at or below it has ended (its rows are visible, or it failed
   * and left a hole). 0 when there is none. Rows up to it can be read in any order, in parts,
   * with no safe-prefix check (see the class comment: a row whose transaction is below the
   * horizon settles every position before it).
   */
  async settledPosition(until: number): Promise<number> {
    const { rows } = await this.sql.query<{ position: string | number | null }>(
      `SELECT max(position) AS position FROM events
        WHERE position <= $1 AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())`,
      [until],
    );
    return Number(rows[0].position ?? 0);
  }

  /**
   * One part of the log for a replay split by stream: the events after `after` up to
   * `through` (at most settledPosition: nothing is checked for transactions in flight) of the
   * streams whose hash falls in part `index` of `count`, and of the `everyPart` streams, in
   * position order, as readAllForReplay decodes them. Each part's backend scans the whole
   * range and sends its share.
   */
  async readPartForReplay(part: {
    after: number;
    through: number;
    index: number;
    count: number;
    everyPart: readonly string[];
  }): Promise<StoredEvent[]> {
    const { rows } = await this.sql.query<ReplayRow>(
      `SELECT ${REPLAY_COLUMNS} FROM events
        WHERE position > $1 AND position <= $2
          AND ((hashtext(stream_id) & 2147483647) % $3 = $4 OR stream_id = ANY($5::text[]))
        ORDER BY position`,
      [part.after, part.through, part.count, part.index, [...part.everyPart]],
    );
    return rows.map(replayEventOf);
  }

  private async readSafePrefix<R extends { position: string | number }, E = StoredEvent>(
    options: ReadAllOptions,
    first: { text: string; prepare: boolean },
    again: string,
    decode: (row: R) => E,
  ): Promise<E[]> {
    const limit = options.limit ?? null;
    const until = options.until ?? null;
    const events: E[] = [];
    let after = options.after ?? 0;
    let target: number | undefined;
    const deadline = Date.now() + IN_FLIGHT_WAIT_MS;
    for (let attempt = 0; ; attempt++) {
      const remaining = limit === null ? null : limit - events.length;
      const { rows } = await this.sql.query<R & { head: string | null; settled: boolean | null }>(
        attempt === 0 ? first.text : again,
        [after, until, remaining],
        { prepare: attempt === 0 && first.prepare, isoTimestamps: true },
      );
      target ??= rows.length > 0 && rows[0].head !== null ? Number(rows[0].head) : 0;
      // The safe prefix: a row right after the last safe one (nothing lies between them that
      // could still commit), or one of a transaction below the horizon (see the class comment).
      for (const row of rows) {
        if (row.position === null) break;
        const position = Number(row.position);
        if (position !== after + 1 && !row.settled) break;
        events.push(decode(row));
        after = position;
      }
      // A paging reader (limit given) comes back for the rest: it waits only for an empty page.
      const paged = limit !== null && events.length > 0;
      if (paged || after >= target || Date.now() >= deadline) return events;
      const backoff = Math.min(IN_FLIGHT_POLL_MS << attempt, IN_FLIGHT_POLL_MAX_MS);
      await new Promise((resolve) => setTimeout(resolve, backoff));
    }
  }

  async streamRevision(streamId: string): Promise<number | null> {
    const { rows } = await this.sql.query<{ revision: number | null }>(
      'SELECT max(revision) AS revision FROM events WHERE stream_id = $1',
      [streamId],
    );
    return rows[0].revision;
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
      // This client's own NOTIFYs come back too: their appends woke every store over the client
      // as they settled (the signal), and waking again would only send another read of the tail.
      const own = notifierOf(this.sql).token;
      this.unlisten = this.sql.listen(EVENTS_CHANNEL, (payload) => {
        if (payload !== own) this.wakeSubscriptions();
      });
      this.unlisten.catch(() => (this.unlisten = undefined)); // polling still covers it
    }
    const source = {
      readAll: (read?: ReadAllOptions) => this.log.follow(read),
      readCheckpoint: (id: string) => this.readCheckpoint(id),
    };
    const subscription = new CatchUpSubscription(source, this.checkpoints, handler, options, () =>
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
    await this.checkpoints.close().catch(() => undefined);
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

/**
 * toISOString's form, each field in its range: an occurredAt given so is read back as it is.
 * (A day past its month's end is refused by the server, which fails the append.)
 */
const ISO_INSTANT =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;

/** What an appended event's data or metadata holds until first read. */
const UNREAD: unique symbol = Symbol('unread');

/**
 * An appended event as a read gives it back. Its data and metadata are parsed from the JSON sent
 * (what the store holds, not the caller's objects) on first access: most appenders never look
 * at them, and parsing them back cost the append a sixth of its Node CPU per event.
 */
function appendedEvent(
  event: NewEvent,
  streamId: string,
  revision: number,
  position: number,
  recordedAt: string,
  dataJson: string,
  metadataJson: string,
): StoredEvent {
  let data: unknown = UNREAD;
  let metadata: StoredEvent['metadata'] | typeof UNREAD = UNREAD;
  return {
    // The store holds a uuid, which it prints in lower case whatever case it was sent in.
    id: event.id.toLowerCase(),
    type: event.type,
    schemaVersion: SCHEMA_VERSION,
    streamId,
    revision,
    position,
    occurredAt: ISO_INSTANT.test(event.occurredAt)
      ? event.occurredAt
      : new Date(event.occurredAt).toISOString(),
    recordedAt,
    get data(): unknown {
      return data === UNREAD ? (data = JSON.parse(dataJson) as unknown) : data;
    },
    set data(value: unknown) {
      data = value;
    },
    get metadata(): StoredEvent['metadata'] {
      return metadata === UNREAD
        ? (metadata = JSON.parse(metadataJson) as StoredEvent['metadata'])
        : metadata;
    },
    set metadata(value: StoredEvent['metadata']) {
      metadata = value;
    },
  };
}

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

/** A row of the append function's answer. */
interface AppendRow {
  /** Which append of the group the row answers (1-based). */
  append_index: number;
  outcome: 'stored' | 'conflict' | 'guard-moved' | 'appended';
  /**
   * Appended: the revision of the append's first event; conflict: the stream's revision;
   * guard-moved: the guard stream's.
   */
  stream_revision: number | null;
  /** Appended: the position of the append's last event; stored: the stored event's. */
  position: string | number | null;
  /** Stored: the stored event, printed as a replay reads it (REPLAY_COLUMNS). */
  event: string | null;
}

/** A stored event the append function answered a retry with. */
const storedEventOf = (row: AppendRow): StoredEvent =>
  replayEventOf({ position: row.position as string | number, event: row.event as string });

/** An append waiting for, or travelling in, a group. */
interface PendingAppend {
  streamId: string;
  events: NewEvent[];
  /** Its event ids in lower case (validateAppend's). */
  ids: Set<string>;
  options: AppendOptions;
  recordedAt: string;
  /** Each event's data and metadata as JSON. */
  data: string[];
  metadata: string[];
  /** Appended by background work (see inBackground): its group waits behind requests' turns. */
  background: boolean;
  result: Deferred;
}

interface Deferred {
  promise: Promise<AppendResult>;
  resolve(result: AppendResult): void;
  reject(error: unknown): void;
}

const deferred = (): Deferred => {
  let resolve!: Deferred['resolve'];
  let reject!: Deferred['reject'];
  const promise = new Promise<AppendResult>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};

/** One statement per group of appends: see truceline_append_columns in the schema. */
const APPEND = `SELECT * FROM truceline_append_columns($1::text[], $2::text[],
  $3::timestamptz[], $4::integer[], $5::integer[], $6::uuid[], $7::text[], $8::timestamptz[],
  $9::jsonb, $10::jsonb, $11, $12, $13::integer[])`;

/** Whether two sets share an element. */
const sharesAny = (a: ReadonlySet<string>, b: ReadonlySet<string>): boolean => {
  for (const element of b) if (a.has(element)) return true;
  return false;
};

/** Bounds of one group: a statement of a few megabytes at most. */
const GROUP_MAX_APPENDS = 64;
const GROUP_MAX_EVENTS = 1000;

/** One notifier per client: every store over the same connection shares its coalescing. */
const notifiers = new WeakMap<SqlClient, NotifyAfterCommit>();
const notifierOf = (sql: SqlClient): NotifyAfterCommit => {
  let notify = notifiers.get(sql);
  if (!notify) notifiers.set(sql, (notify = new NotifyAfterCommit(sql, EVENTS_CHANNEL)));
  return notify;
};

/**
 * Rows after $1 in position order, each flagged `settled` when its transaction id is below the
 * horizon: the lowest transaction id in flight in this statement's snapshot (every id below it
 * has finished). `head` (the highest committed position, in flight or not) tells the caller
 * whether committed rows were held back. One row with null columns when none.
 */
const readAllOf = (columns: string) => `
  SELECT h.head, e.*, e.transaction_id < h.horizon AS settled
  FROM (SELECT max(position) AS head, pg_snapshot_xmin(pg_current_snapshot()) AS horizon
        FROM events WHERE $2::bigint IS NULL OR position <= $2) h
  LEFT JOIN LATERAL (
    SELECT ${columns}, transaction_id FROM events
    WHERE position > $1 AND ($2::bigint IS NULL OR position <= $2)
    ORDER BY position LIMIT $3::bigint
  ) e ON true`;

/**
 * The same with a finer horizon: transactions in flight in other databases of the server are
 * left out, since they cannot write these rows. A transaction not found in pg_stat_activity
 * (ended since, or hidden from this role) still counts: the horizon only errs low.
 */
const readAllOtherDatabasesIgnoredOf = (columns: string) => `
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
  SELECT h.head, e.*, e.transaction_id < horizon.horizon AS settled
  FROM (SELECT max(position) AS head FROM events WHERE $2::bigint IS NULL OR position <= $2) h
  CROSS JOIN horizon
  LEFT JOIN LATERAL (
    SELECT ${columns}, transaction_id FROM events
    WHERE position > $1 AND ($2::bigint IS NULL OR position <= $2)
    ORDER BY position LIMIT $3::bigint
  ) e ON true`;

/**
 * readAll's first read: truceline_read_log (see the schema), which answers as readAllOf does but
 * stops before the first row the reader could not take, and whose plans are made once per
 * connection along the log's index. Past that row a read at the tail under concurrent appends
 * sent about as many rows again, each dropped here and read again on a later call.
 */
const READ_ALL = 'SELECT * FROM truceline_read_log($1, $2, $3)';

/**
 * The reads as they were, on PGlite: it prepares every statement and keeps its plan, and there
 * the functions' calls cost more than they save (a read at the tail 150-180 -> 260 us, a page
 * of 500 a tenth more), with no other connection to send rows past an append in flight.
 */
const READ_ALL_EMBEDDED = readAllOf(COLUMNS);
const READ_STREAM_EMBEDDED = `SELECT ${COLUMNS} FROM events WHERE stream_id = $1 AND revision >= $2
  ORDER BY revision LIMIT $3::bigint`;
const READ_ALL_OTHER_DATABASES_IGNORED = readAllOtherDatabasesIgnoredOf(COLUMNS);
const REPLAY_READ = readAllOf(REPLAY_COLUMNS);
const JSON_TEXT_READ = readAllOf(JSON_TEXT_COLUMNS);
const JSON_TEXT_READ_OTHER_DATABASES_IGNORED = readAllOtherDatabasesIgnoredOf(JSON_TEXT_COLUMNS);
const REPLAY_READ_OTHER_DATABASES_IGNORED = readAllOtherDatabasesIgnoredOf(REPLAY_COLUMNS);
