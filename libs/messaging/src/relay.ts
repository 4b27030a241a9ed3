import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { StoredEvent } from '@truceline/domain';
import { EVENTS_CHANNEL, SqlClient, SqlEventStore } from '@truceline/event-store';
import { Kafka, Partitioners, Producer } from 'kafkajs';
import pino, { Logger } from 'pino';
import { EVENTS_SOURCE, EVENTS_TOPIC, toKafkaMessage } from './cloud-event';
import { ensureTopics } from './kafka-client';
import { LeaseLostError, RelayLease } from './relay-lease';

export interface EventRelayOptions {
  /** The database of the event store; it also holds the relay's lease and checkpoint. */
  sql: SqlClient;
  kafka: Kafka;
  /** Default truceline.events.v1; tests give each relay a topic of its own. */
  topic?: string;
  /** `ce_source` of the published events. */
  source?: string;
  /**
   * Kafka transactional id, the same for every instance relaying this topic: a new leader's
   * producer fences the previous one's. Default `truceline-relay.<topic>`.
   */
  transactionalId?: string;
  /** Used when the relay creates the topic at start (default 12 partitions, replication 1). */
  numPartitions?: number;
  replicationFactor?: number;
  /** Events per Kafka transaction (default 200). */
  batchSize?: number;
  /** Idle wait between reads of the log when nothing wakes the relay earlier (default 150 ms). */
  pollIntervalMs?: number;
  /** A leader that stops renewing is replaced after this long (default 5000 ms). */
  leaseTtlMs?: number;
  /** How often the leader renews and a standby tries to take over (default 1000 ms). */
  leaseRenewMs?: number;
  /** Names this instance in the lease row and the logs; default host:pid:random. */
  instanceId?: string;
  logger?: Logger;
  /** Test hook: runs inside each Kafka transaction, after the sends and before the commit. */
  beforeCommit?: (batch: StoredEvent[]) => Promise<void>;
}

export interface RelayCounters {
  /** Events this instance published and checkpointed (a batch republished after a crash counts again). */
  events: number;
  /** Kafka transactions committed. */
  batches: number;
  /** Times this instance started publishing: a new leadership, or a fresh producer after a failure. */
  takeovers: number;
  /** Position this instance last checkpointed (0 before its first batch). */
  position: number;
}

const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5_000;

/**
 * Publishes the log to Kafka (STYLE habit 4: from the log, never from the request).
 *
 * Delivery: at least once, in position order. Each batch is one Kafka transaction (idempotent
 * producer, acks = all); the checkpoint `relay:<topic>` is advanced only after the broker
 * committed it, so a crash in between republishes that batch, never skips it. Consumers
 * deduplicate by event id. The key is the incident id, so one incident's events share a
 * partition and keep the log's order.
 *
 * Several instances may run: exactly one publishes, holding a lease row in the database; the
 * others stand by and take over within the lease TTL when the leader dies. A leader that only
 * seems dead (a long pause) is fenced twice over: the new leader's producer, with the same
 * transactional id, makes the broker refuse the old one's transactions, and the checkpoint is
 * written only in a transaction that checks the lease is still held.
 */
export class EventRelay {
  readonly topic: string;
  readonly checkpointName: string;
  private readonly store: SqlEventStore;
  private readonly lease: RelayLease;
  private readonly logger: Logger;
  private readonly source: string;
  private readonly transactionalId: string;
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private readonly leaseRenewMs: number;
  private readonly counters: RelayCounters = { events: 0, batches: 0, takeovers: 0, position: 0 };
  private producer?: Producer;
  private position = 0;
  private currentBatchSize: number;
  private stopped = true;
  private loops: Promise<void>[] = [];
  private unlisten?: () => Promise<void>;
  private wakeIdle?: () => void;
  private woken = false;
  private readonly sleepers = new Set<() => void>();

  constructor(private readonly options: EventRelayOptions) {
    this.topic = options.topic ?? EVENTS_TOPIC;
    this.checkpointName = `relay:${this.topic}`;
    this.store = new SqlEventStore(options.sql);
    const instanceId = options.instanceId ?? `${hostname()}:${process.pid}:${randomUUID()}`;
    this.lease = new RelayLease(
      options.sql,
      this.checkpointName,
      instanceId,
      options.leaseTtlMs ?? 5_000,
    );
    this.logger = (options.logger ?? pino({ enabled: false })).child({
      component: 'relay',
      topic: this.topic,
      instance: instanceId,
    });
    this.source = options.source ?? EVENTS_SOURCE;
    this.transactionalId = options.transactionalId ?? `truceline-relay.${this.topic}`;
    this.batchSize = options.batchSize ?? 200;
    this.currentBatchSize = this.batchSize;
    this.pollIntervalMs = options.pollIntervalMs ?? 150;
    this.leaseRenewMs = options.leaseRenewMs ?? 1_000;
  }

  /** Creates the lease table and the topic if needed, then leads or stands by in the background. */
  async start(): Promise<void> {
    if (!this.stopped) throw new Error('relay already started');
    await RelayLease.migrate(this.options.sql);
    await this.ensureTopic();
    this.stopped = false;
    this.unlisten = await this.options.sql
      .listen?.(EVENTS_CHANNEL, () => this.wake())
      .catch(() => undefined); // polling covers it
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
    await this.unlisten?.().catch(() => undefined);
    if (options.release !== false) {
      await this.lease.release().catch((error: unknown) => {
        this.logger.warn({ err: error }, 'could not release the relay lease; it will expire');
      });
    }
  }

  /** New events may be in the log: skip the rest of the idle wait. */
  wake(): void {
    this.woken = true;
    this.wakeIdle?.();
  }

  isLeader(): boolean {
    return !this.stopped && this.lease.held();
  }

  published(): RelayCounters {
    return { ...this.counters };
  }

  /** Events in the log not yet published (head − durable checkpoint), whoever leads. */
  async lag(): Promise<number> {
    const [head, checkpoint] = await Promise.all([
      this.store.headPosition(),
      this.store.readCheckpoint(this.checkpointName),
    ]);
    return Math.max(0, head - checkpoint);
  }

  private async ensureTopic(): Promise<void> {
    const created = await ensureTopics(this.options.kafka, [this.topic], {
      numPartitions: this.options.numPartitions,
      replicationFactor: this.options.replicationFactor,
    });
    if (created) this.logger.info('created the topic');
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
      if (!held && wasLeader) this.logger.warn('lost the relay lease to another instance');
    } catch (error) {
      // The database is unreachable: the lease runs out locally and publishing pauses until a
      // renewal succeeds again.
      this.logger.warn({ err: error }, 'could not renew the relay lease');
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
        const batch = await this.store.readAll({
          after: this.position,
          limit: this.currentBatchSize,
        });
        if (batch.length === 0) {
          await this.idle(this.pollIntervalMs);
          continue;
        }
        if (!this.lease.held()) continue;
        await this.publish(batch);
        backoff = FIRST_BACKOFF_MS;
      } catch (error) {
        if (error instanceof LeaseLostError) this.logger.warn(error.message);
        else this.logger.error({ err: error, position: this.position }, 'relay batch failed');
        this.shrinkBatchIfTooLarge(error);
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
   * leader's producer and aborts that one's open transaction), then the checkpoint, which no one
   * can move any more.
   */
  private async takeOver(): Promise<void> {
    const producer = this.options.kafka.producer({
      transactionalId: this.transactionalId,
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
      this.position = await this.store.readCheckpoint(this.checkpointName);
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw error;
    }
    this.producer = producer;
    this.counters.takeovers += 1;
    this.logger.info(
      { position: this.position, epoch: this.lease.currentEpoch() },
      'leading: publishing the log from its checkpoint',
    );
  }

  private async standDown(): Promise<void> {
    const producer = this.producer;
    if (!producer) return;
    this.producer = undefined;
    await producer.disconnect().catch((error: unknown) => {
      this.logger.warn({ err: error }, 'could not disconnect the producer');
    });
    this.logger.info({ position: this.position }, 'stopped publishing');
  }

  private async publish(batch: StoredEvent[]): Promise<void> {
    const producer = this.producer;
    if (!producer) throw new Error('publish without a producer');
    const transaction = await producer.transaction();
    try {
      await transaction.send({
        topic: this.topic,
        acks: -1,
        messages: batch.map((event) => toKafkaMessage(event, { source: this.source })),
      });
      await this.options.beforeCommit?.(batch);
      await transaction.commit();
    } catch (error) {
      if (transaction.isActive()) await transaction.abort().catch(() => undefined);
      throw error;
    }
    const last = batch[batch.length - 1].position;
    await this.lease.whileHeld((tx) =>
      new SqlEventStore(tx).writeCheckpoint(this.checkpointName, last),
    );
    this.position = last;
    this.counters.events += batch.length;
    this.counters.batches += 1;
    this.counters.position = last;
    this.currentBatchSize = Math.min(this.batchSize, this.currentBatchSize * 2);
    this.logger.debug({ position: last, events: batch.length }, 'published');
  }

  /**
   * A batch the broker refuses as too large is retried in halves, down to single events; the
   * size grows back by doubling after each batch that went through.
   */
  private shrinkBatchIfTooLarge(error: unknown): void {
    const type = (error as { type?: unknown; cause?: { type?: unknown } } | null) ?? {};
    const code = type.type ?? type.cause?.type;
    if (code === 'MESSAGE_TOO_LARGE' || code === 'RECORD_LIST_TOO_LARGE') {
      this.currentBatchSize = Math.max(1, Math.floor(this.currentBatchSize / 2));
    }
  }

  /** Waits for `ms`, a wake (new events, a new leadership) or stop, whichever comes first. */
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
   * stop promise, which would keep a reaction per wait for the relay's whole life.
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
