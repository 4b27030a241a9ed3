import { NewEvent, StoredEvent } from '@truceline/domain';

/**
 * Expected revision of a stream for an append:
 * - 'any': no check;
 * - 'no-stream': the stream must not exist yet;
 * - 'exists': the stream must have at least one event;
 * - a number: the revision of the stream's last event (0-based) must equal it.
 */
export type ExpectedRevision = 'any' | 'no-stream' | 'exists' | number;

export interface AppendOptions {
  expectedRevision: ExpectedRevision;
  /**
   * Another stream the decision read, and the revision it read it at (-1: no such stream): the
   * append goes only if that stream is still there, else it throws a ConcurrencyError naming
   * the guard's stream and writes nothing. A command decided with the escalation policy its
   * process holds guards the policy stream, so an adoption committed meanwhile through any
   * process governs it (SPEC §3) without a read of the policy stream before every command.
   */
  guard?: { streamId: string; revision: number };
  /**
   * Test hook for the contract suite: called inside the append transaction after positions are
   * taken and before commit, so a test can hold a writer "in flight".
   */
  beforeCommit?: () => Promise<void>;
}

export interface AppendResult {
  streamId: string;
  /** Revision of the last event of this append (the stream's revision afterwards). */
  nextExpectedRevision: number;
  /** Global position of the last event of this append. */
  position: number;
  events: StoredEvent[];
  /** True when every event id was already stored: the append was a no-op returning the original. */
  duplicate: boolean;
}

export interface ReadAllOptions {
  /** Exclusive: return events with position > after. Default 0 (from the start). */
  after?: number;
  limit?: number;
  /** Upper bound (inclusive) on positions returned. */
  until?: number;
}

export interface ReadStreamOptions {
  fromRevision?: number;
  limit?: number;
}

export type EventHandler = (event: StoredEvent) => Promise<void>;

/**
 * A handler that takes each page the subscription reads at once (events in position order), so
 * it can apply them in one transaction; redelivered pages are deduplicated as by an EventHandler.
 */
export interface BatchEventHandler {
  batch(events: readonly StoredEvent[]): Promise<void>;
}

export interface SubscriptionOptions {
  /** Durable name: the checkpoint is stored under it and resumed after a restart. */
  subscriberId: string;
  /** Events per read. */
  batchSize?: number;
  /** Milliseconds between polls when idle (appends in this process wake it earlier). */
  pollIntervalMs?: number;
  /** Called when the handler throws: the subscription retries the same event after a backoff. */
  onError?: (error: unknown, event: StoredEvent) => void;
}

export interface Subscription {
  readonly subscriberId: string;
  /** Resolves once the subscription has processed everything up to `position`. */
  waitFor(position: number, timeoutMs?: number): Promise<void>;
  /** Position of the last event handled and checkpointed. */
  checkpoint(): number;
  stop(): Promise<void>;
}

/** The one port in front of PostgreSQL, PGlite (and, later, KurrentDB). */
export interface EventStore {
  /** Creates schema objects if needed (idempotent migrations). */
  init(): Promise<void>;
  append(streamId: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult>;
  /** Events of one stream in revision order; [] for an unknown stream. */
  readStream(streamId: string, options?: ReadStreamOptions): Promise<StoredEvent[]>;
  /** Events of all streams in position order; never skips past a transaction in flight. */
  readAll(options?: ReadAllOptions): Promise<StoredEvent[]>;
  /** Revision of the stream's last event, or null when it does not exist. */
  streamRevision(streamId: string): Promise<number | null>;
  /** Highest committed position (0 when empty). */
  headPosition(): Promise<number>;
  /** A catch-up subscription over readAll with a durable checkpoint. */
  subscribe(
    handler: EventHandler | BatchEventHandler,
    options: SubscriptionOptions,
  ): Promise<Subscription>;
  readCheckpoint(subscriberId: string): Promise<number>;
  writeCheckpoint(subscriberId: string, position: number): Promise<void>;
  /**
   * Present on a store that is the one writer of its log (the embedded store: one process owns
   * the database): calls `listener` with the events of each append as it commits, before the
   * appender learns of it, and returns the function that stops it. Whoever holds a stream's
   * events can then keep them current without reading the stream again; elsewhere other
   * processes append too.
   */
  onCommitted?(listener: (events: readonly StoredEvent[]) => void): () => void;
  close(): Promise<void>;
}
