import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { EventStore, SqlClient, SqlEventStore } from '@truceline/event-store';
import { Kafka, Partitioners, Producer, TopicMessages } from 'kafkajs';
import pino, { Logger } from 'pino';
import { LeaseLostError, RelayLease } from './relay-lease';

const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5_000;

/** What one round hands to Kafka, and the checkpoints that move once the broker committed it. */
export interface PublishBatch {
  topicMessages: TopicMessages[];
  /** Checkpoint name → position (or seq) reached by this batch. */
  checkpoints: ReadonlyMap<string, number>;
}

/** The publisher's side of a relay: what is pending, and what to do around a leadership. */
export interface PublishSource {
  /** A new leadership begins: forget anything cached, the checkpoints may have moved. */
  takeOver(checkpoints: Pick<EventStore, 'readCheckpoint'>): Promise<void>;
  /** The next batch to publish, or null when there is nothing to send. */
  next(): Promise<PublishBatch | null>;
  /** The batch is committed on the broker and its checkpoints are durable. */
  committed(batch: PublishBatch): void;
  /** A round failed (the producer is replaced before the next one). */
  failed?(error: unknown): void;
}

export interface LeasedPublisherOptions {
  sql: SqlClient;
  kafka: Kafka;
  /** Lease row name, shared by every instance publishing the same thing. */
  leaseName: string;
  /** Kafka transactional id, shared likewise: a new leader's producer fences the previous one's. */
  transactionalId: string;
  instanceId?: string;
  /** A leader that stops renewing is replaced after this long (default 5000 ms). */
  leaseTtlMs?: number;
  /** How often the leader renews and a standby tries to take over (default 1000 ms). */
  leaseRenewMs?: number;
  /** Idle wait between rounds when nothing wakes the publisher earlier (default 150 ms). */
  pollIntervalMs?: number;
  logger: Logger;
  /** Test hook: runs inside each Kafka transaction, after the sends and before the commit. */
  beforeCommit?: (batch: PublishBatch) => Promise<void>;
}

/** What every relay built on the publisher is configured with. */
export interface RelayOptions {
  /** The database of the event store; it also holds the lease and the checkpoints. */
  sql: SqlClient;
  kafka: Kafka;
  /**
   * Kafka transactional id, the same for every instance relaying the same thing: a new leader's
   * producer fences the previous one's.
   */
  transactionalId?: string;
  /** Used when the relay creates its topics (default 12 partitions, replication 1). */
  numPartitions?: number;
  replicationFactor?: number;
  /** Entries per Kafka transaction (per topic; default 200). */
  batchSize?: number;
  /** Idle wait between rounds when nothing wakes the relay earlier (default 150 ms). */
  pollIntervalMs?: number;
  /** A leader that stops renewing is replaced after this long (default 5000 ms). */
  leaseTtlMs?: number;
  /** How often the leader renews and a standby tries to take over (default 1000 ms). */
  leaseRenewMs?: number;
  /** Names this instance in the lease row and the logs; default host:pid:random. */
  instanceId?: string;
  logger?: Logger;
}

export const defaultInstanceId = (): string => `${hostname()}:${process.pid}:${randomUUID()}`;

/**
 * Publishes what a source has pending to Kafka, one leader at a time, at least once and in order.
 *
 * Leadership is a lease row in the database (RelayLease); standbys take over within the TTL when
 * the leader dies. A leader that only seems dead (a long pause) is fenced twice over: the new
 * leader's producer, with the same transactional id, makes the broker refuse the old one's
 * transactions, and checkpoints are written through the store's port only in a database
 * transaction that checks the lease is still held. Each batch is one Kafka transaction
 * (idempotent producer, acks = all); its checkpoints move only after the broker committed it,
 * so a crash in between republishes the batch, never skips it.
 */
export class LeasedPublisher {
  readonly instanceId: string;
  private readonly lease: RelayLease;
  private readonly leaseRenewMs: number;
  private readonly pollIntervalMs: number;
  private readonly checkpoints: EventStore;
  private producer?: Producer;
  private stopped = true;
  private loops: Promise<void>[] = [];
  private woken = false;
  private wakeIdle?: () => void;
  private readonly sleepers = new Set<() => void>();
  /** Times this instance started publishing: a new leadership, or a fresh producer after a failure. */
  takeovers = 0;

  /** A relay's publisher: its options, its lease and transactional id, its log bindings. */
  static forRelay(
    options: RelayOptions & { beforeCommit?: LeasedPublisherOptions['beforeCommit'] },
    names: { leaseName: string; transactionalId: string; log: Record<string, string> },
    source: PublishSource,
  ): LeasedPublisher {
    const instanceId = options.instanceId ?? defaultInstanceId();
    return new LeasedPublisher(
      {
        ...options,
        leaseName: names.leaseName,
        transactionalId: names.transactionalId,
        instanceId,
        logger: (options.logger ?? pino({ enabled: false })).child({
          ...names.log,
          instance: instanceId,
        }),
      },
      source,
    );
  }

  get logger(): Logger {
    return this.options.logger;
  }

  constructor(
    private readonly options: LeasedPublisherOptions,
    private readonly source: PublishSource,
  ) {
    this.instanceId = options.instanceId ?? defaultInstanceId();
    this.lease = new RelayLease(
      options.sql,
      options.leaseName,
      this.instanceId,
      options.leaseTtlMs ?? 5_000,
    );
    this.leaseRenewMs = options.leaseRenewMs ?? 1_000;
    this.pollIntervalMs = options.pollIntervalMs ?? 150;
    this.checkpoints = new SqlEventStore(options.sql);
  }

  /** Creates the lease table if needed, then leads or stands by in the background. */
  async start(): Promise<void> {
    if (!this.stopped) throw new Error(`publisher ${this.options.leaseName} already started`);
    await RelayLease.migrate(this.options.sql);
    this.stopped = false;
    await this.renewLease();
    this.loops = [this.leaseLoop(), this.publishLoop()];
  }

  /**
   * Finishes the batch in flight and stops. `release: false` leaves the lease to run out, as a
   * crash would (tests of failover).
   */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const wakeUp of [...this.sleepers]) wakeUp();
    await Promise.all(this.loops);
    this.loops = [];
    if (options.release !== false) {
      await this.lease.release().catch((error: unknown) => {
        this.options.logger.warn({ err: error }, 'could not release the lease; it will expire');
      });
    }
  }

  /** Something may be pending: skip the rest of the idle wait. */
  wake(): void {
    this.woken = true;
    this.wakeIdle?.();
  }

  isLeader(): boolean {
    return !this.stopped && this.lease.held();
  }

  /** Fencing token of the current leadership (null when not leading). */
  epoch(): number | null {
    return this.lease.currentEpoch();
  }

  private async leaseLoop(): Promise<void> {
    while (!this.stopped) {
      await this.sleep(this.leaseRenewMs);
      if (!this.stopped) await this.renewLease();
    }
  }

  private async renewLease(): Promise<void> {
    const wasLeader = this.lease.held();
    try {
      const held = await this.lease.acquire();
      if (held && !wasLeader) this.wake();
      if (!held && wasLeader) this.options.logger.warn('lost the lease to another instance');
    } catch (error) {
      // The database is unreachable: the lease runs out locally and publishing pauses until a
      // renewal succeeds again.
      this.options.logger.warn({ err: error }, 'could not renew the lease');
    }
  }

  private async publishLoop(): Promise<void> {
    let backoff = FIRST_BACKOFF_MS;
    while (!this.stopped) {
      try {
        if (!this.lease.held()) {
          await this.standDown();
          await this.idle(this.leaseRenewMs);
          continue;
        }
        // Renewed right before taking over, not trusted from the last renewal: a fresh producer
        // fences whoever publishes, and must never fence the rightful leader.
        if (!this.producer && !(await this.lease.acquire())) continue;
        if (!this.producer) await this.takeOver();
        this.woken = false;
        const batch = await this.source.next();
        if (!batch) {
          await this.idle(this.pollIntervalMs);
          continue;
        }
        if (!this.lease.held()) continue;
        await this.publish(batch);
        this.source.committed(batch);
        backoff = FIRST_BACKOFF_MS;
      } catch (error) {
        if (error instanceof LeaseLostError) this.options.logger.warn(error.message);
        else this.options.logger.error({ err: error }, 'publishing a batch failed');
        this.source.failed?.(error);
        // The producer's transaction state is unknown after a failure: start over with a new one,
        // whose initialisation aborts whatever the old one left open.
        await this.standDown();
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
    await this.standDown();
  }

  /**
   * Becomes the publishing leader: first the producer (its initialisation fences any previous
   * leader's producer and aborts that one's open transaction), then the checkpoints, which no
   * one can move any more.
   */
  private async takeOver(): Promise<void> {
    const producer = this.options.kafka.producer({
      transactionalId: this.options.transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      // A failed send aborts the whole transaction and the batch starts over, so bounded retries
      // cannot duplicate or reorder anything.
      retry: { retries: 5 },
    });
    try {
      await producer.connect();
      // kafkajs initialises the transactional producer id lazily, at the first transaction: an
      // empty one does it now, before anything is read. It sends nothing to the broker.
      const init = await producer.transaction();
      await init.commit();
      await this.source.takeOver(this.checkpoints);
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw error;
    }
    this.producer = producer;
    this.takeovers += 1;
    this.options.logger.info(
      { epoch: this.lease.currentEpoch() },
      'leading: publishing from the checkpoints',
    );
  }

  private async standDown(): Promise<void> {
    const producer = this.producer;
    if (!producer) return;
    this.producer = undefined;
    await producer.disconnect().catch((error: unknown) => {
      this.options.logger.warn({ err: error }, 'could not disconnect the producer');
    });
    this.options.logger.info('stopped publishing');
  }

  private async publish(batch: PublishBatch): Promise<void> {
    const producer = this.producer;
    if (!producer) throw new Error('publish without a producer');
    const transaction = await producer.transaction();
    try {
      await transaction.sendBatch({ topicMessages: batch.topicMessages, acks: -1 });
      await this.options.beforeCommit?.(batch);
      await transaction.commit();
    } catch (error) {
      if (transaction.isActive()) await transaction.abort().catch(() => undefined);
      throw error;
    }
    await this.lease.whileHeld(async (tx) => {
      const checkpoints: EventStore = new SqlEventStore(tx);
      for (const [name, position] of batch.checkpoints) {
        await checkpoints.writeCheckpoint(name, position);
      }
    });
  }

  /** Waits for `ms`, a wake (something pending, a new leadership) or stop, whichever is first. */
  private async idle(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return;
    }
    await this.sleep(ms, (done) => (this.wakeIdle = done));
    this.wakeIdle = undefined;
  }

  /**
   * Waits for `ms` or stop. Sleepers are kept in a set rather than raced against one long-lived
   * stop promise, which would keep a reaction per wait for the publisher's whole life.
   */
  private sleep(ms: number, onStart?: (done: () => void) => void): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.sleepers.add(done);
      onStart?.(done);
    });
  }
}
