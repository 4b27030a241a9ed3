import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { EventStore, SqlClient, SqlEventStore } from '@truceline/event-store';
import { ICustomPartitioner, Kafka, Partitioners, Producer, TopicMessages } from 'kafkajs';
import pino, { Logger } from 'pino';
import { LeaseLostError, RelayLease } from './relay-lease';

const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5_000;
/** First retry of a transaction's send; it doubles up to 8 times (about 5 s in all). */
const ADD_PARTITIONS_RETRY_MS = 20;
/** The idle wait between rounds when nothing wakes the publisher earlier. */
export const DEFAULT_POLL_INTERVAL_MS = 150;
/** See RelayOptions.tailTransactionMs. */
const DEFAULT_TAIL_TRANSACTION_MS = 25;

/** What one round hands to Kafka, and the checkpoints that move once the broker committed it. */
export interface PublishBatch {
  topicMessages: TopicMessages[];
  /** Checkpoint name → position (or seq) reached by this batch. */
  checkpoints: ReadonlyMap<string, number>;
  /**
   * The source stopped at its page size: more was pending when it read this batch (a backlog).
   * A batch that is not full reached the source's tail.
   */
  full?: boolean;
}

/**
 * The publisher's side of a relay: what is pending, and what to do around a leadership.
 *
 * A source reads ahead: `next()` answers the batch that follows the last one it answered, which
 * may not be committed yet (one Kafka transaction carries several batches, and the next one is
 * read while the previous one is being sent). After `failed()` or `takeOver()` it starts again
 * from what is committed.
 */
export interface PublishSource {
  /** A new leadership begins: forget anything cached, the checkpoints may have moved. */
  takeOver(checkpoints: Pick<EventStore, 'readCheckpoint'>): Promise<void>;
  /** The batch after the last one answered, or null when there is nothing more to send. */
  next(): Promise<PublishBatch | null>;
  /**
   * The batches of one transaction, merged, are committed on the broker and checkpointed. The
   * checkpoint is written while the next transaction is read: `next()` may already have
   * answered batches that follow this one.
   */
  committed(batch: PublishBatch): void;
  /**
   * A round failed (the producer is replaced before the next one): what was read ahead is
   * forgotten, the next batch starts after the last one committed.
   */
  failed(error: unknown): void;
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
  /** Batches of the source one Kafka transaction carries at most (default 5). */
  batchesPerTransaction?: number;
  /** Least time between the starts of two Kafka transactions (default 0: see RelayOptions). */
  transactionIntervalMs?: number;
  /** How long a transaction goes on taking batches at the source's tail (see RelayOptions). */
  tailTransactionMs?: number;
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
  /**
   * Used when the relay creates its topics (replication 1 by default; partitions: 12 for the
   * events topic, 1 for a partner's feed).
   */
  numPartitions?: number;
  replicationFactor?: number;
  /**
   * Entries per batch read from the store and handed to `sendBatch` (per topic; default 1000 for
   * the events, 200 per partner for the feeds); a Kafka transaction carries up to
   * `batchesPerTransaction` of them when that much is pending.
   */
  batchSize?: number;
  /** Batches one Kafka transaction carries at most (default 5). */
  batchesPerTransaction?: number;
  /**
   * Least time between the starts of two Kafka transactions: what arrives meanwhile waits and
   * goes in the next one. A transaction costs the broker about the same whatever it carries (a
   * write to its transaction log for the partitions it adds, a commit marker in each, the
   * commit's two writes), so a relay that keeps up starts fewer of them. After a quiet spell
   * the next one starts at once. Default: 100 ms for the events, 0 for the partner feeds.
   */
  transactionIntervalMs?: number;
  /**
   * At the source's tail (the last batch was not full), how long after its start a transaction
   * still takes a further batch; after that it commits with what it carries, and what arrives
   * meanwhile goes in the next one. A relay that keeps up reads a short batch while each send is
   * in flight, so without a bound a transaction would always carry `batchesPerTransaction` of
   * them, and its first entries would wait for all those sends (and for reads and encodings
   * that a busy or just-started process makes slow) before the commit made them visible. A
   * backlog (full batches) still fills a transaction, where its fixed cost is a small share.
   * Default 25 ms.
   */
  tailTransactionMs?: number;
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
  private readonly batchesPerTransaction: number;
  private readonly transactionIntervalMs: number;
  private readonly tailTransactionMs: number;
  /** When the last Kafka transaction began (performance.now()). */
  private lastTransactionAt = -Infinity;
  private readonly checkpoints: EventStore;
  private producer?: Producer;
  private stopped = true;
  private loops: Promise<void>[] = [];
  private woken = false;
  private wakeIdle?: () => void;
  private readonly sleepers = new Set<() => void>();
  /** The checkpoint of the last committed transaction, while it is being written. */
  private checkpointing: Promise<void> = Promise.resolve();
  /** Writing that checkpoint failed, and nothing has waited for it yet. */
  private checkpointFailed = false;
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
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.batchesPerTransaction = Math.max(1, options.batchesPerTransaction ?? 5);
    this.transactionIntervalMs = Math.max(0, options.transactionIntervalMs ?? 0);
    this.tailTransactionMs = Math.max(0, options.tailTransactionMs ?? DEFAULT_TAIL_TRANSACTION_MS);
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
          await this.checkpointed();
          await this.standDown();
          await this.idle(this.leaseRenewMs);
          continue;
        }
        // Renewed right before taking over, not trusted from the last renewal: a fresh producer
        // fences whoever publishes, and must never fence the rightful leader.
        if (!this.producer && !(await this.lease.acquire())) continue;
        if (!this.producer) await this.takeOver();
        // Too soon after the last transaction began: what arrives meanwhile goes in the next one.
        const early = this.lastTransactionAt + this.transactionIntervalMs - performance.now();
        if (early > 0) {
          await this.sleep(early);
          continue;
        }
        // A checkpoint that failed while this loop was idle: the failure path, before anything else.
        if (this.checkpointFailed) await this.checkpointed();
        this.woken = false;
        const batch = await this.source.next();
        if (!batch) {
          // The last checkpoint may still be being written: what arrives meanwhile goes at once.
          await this.idle(this.pollIntervalMs);
          continue;
        }
        if (!this.lease.held()) {
          // Not sent: what was read goes again, after the checkpoints, under the next leadership.
          await this.checkpointed();
          this.source.failed(new LeaseLostError(this.options.leaseName, this.instanceId));
          continue;
        }
        await this.publish(batch);
        backoff = FIRST_BACKOFF_MS;
      } catch (error) {
        if (error instanceof LeaseLostError) this.options.logger.warn(error.message);
        else this.options.logger.error({ err: error }, 'publishing a batch failed');
        // The last transaction's checkpoint first: once stored, what follows it starts after it.
        await this.checkpointed().catch(() => undefined);
        this.source.failed(error);
        // The producer's transaction state is unknown after a failure: start over with a new one,
        // whose initialisation aborts whatever the old one left open.
        await this.standDown();
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
    await this.checkpointed().catch((error: unknown) => {
      this.options.logger.warn({ err: error }, 'could not store the last checkpoint');
    });
    await this.standDown();
  }

  /**
   * Waits for the checkpoint of the last committed transaction, if it is still being written;
   * rejects (once) when writing it failed.
   */
  private async checkpointed(): Promise<void> {
    const writing = this.checkpointing;
    this.checkpointing = Promise.resolve();
    this.checkpointFailed = false;
    await writing;
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
      createPartitioner: onePartitionOrHashed,
      // A failed send aborts the whole transaction and the batch starts over, so bounded retries
      // cannot duplicate or reorder anything. They start short: right after a commit the broker
      // is still writing the previous transaction's markers and answers the next transaction's
      // first send with CONCURRENT_TRANSACTIONS for a few milliseconds (the Java client retries
      // that after 20 ms). With the client's 200 ms every transaction waited about that long:
      // about five transactions a second, whatever their size.
      retry: { retries: 8, initialRetryTime: ADD_PARTITIONS_RETRY_MS },
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

  /**
   * One Kafka transaction: `first`, then whatever more the source has pending, up to
   * `batchesPerTransaction` batches, each read while the one before it is being sent. The
   * checkpoints move once the broker committed them all, in a database transaction that checks
   * the lease, and `committed` follows.
   *
   * Reading ahead changes nothing a consumer or a restart sees: the batches go out in order, one
   * request at a time, inside one transaction that commits or aborts as a whole, and no
   * checkpoint moves before the commit. Carrying several batches makes the transaction's fixed
   * cost (adding the partitions, the commit markers, the checkpoint) a small share of a backlog.
   *
   * The checkpoint is written while the next transaction is read and sent, not before: one
   * round trip to the database less in every round, which, with the reads, the sends and the
   * commit one after another, bounded how often a relay that kept up could publish. It stays
   * behind the broker as before (written only after the commit it records) and in order (the
   * next transaction commits only once it is stored, so one is written at a time and a lost
   * lease stops the relay before its next commit, as it did).
   */
  private async publish(first: PublishBatch): Promise<void> {
    const producer = this.producer;
    if (!producer) throw new Error('publish without a producer');
    const began = (this.lastTransactionAt = performance.now());
    const transaction = await producer.transaction();
    const sent: PublishBatch[] = [];
    try {
      for (let batch: PublishBatch | null = first; batch;) {
        const more: boolean =
          sent.length + 1 < this.batchesPerTransaction &&
          (batch.full === true || performance.now() - began < this.tailTransactionMs);
        const readAhead: Promise<PublishBatch | null> =
          more && this.lease.held() ? this.source.next() : Promise.resolve(null);
        // Settled even if the send below fails, so its error is never left unhandled.
        readAhead.catch(() => undefined);
        await transaction.sendBatch({ topicMessages: batch.topicMessages, acks: -1 });
        sent.push(batch);
        batch = await readAhead;
      }
      const merged = mergeBatches(sent);
      // The previous transaction's checkpoint is stored (and `committed` called) first.
      await this.checkpointed();
      await this.options.beforeCommit?.(merged);
      await transaction.commit();
      const checkpointing = (this.checkpointing = this.checkpoint(merged));
      // Awaited before the next commit (or at the loop's end); a failure wakes the loop at once.
      checkpointing.catch(() => {
        if (this.checkpointing !== checkpointing) return;
        this.checkpointFailed = true;
        this.wake();
      });
    } catch (error) {
      if (transaction.isActive()) await transaction.abort().catch(() => undefined);
      throw error;
    }
  }

  /**
   * Every checkpoint of a committed transaction (one per partner feed) in one statement, which
   * also checks and locks the lease.
   */
  private async checkpoint(batch: PublishBatch): Promise<void> {
    await this.lease.storeCheckpoints(batch.checkpoints);
    this.source.committed(batch);
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

/**
 * kafkajs's default partitioner (murmur2 of the key), but a topic of one partition — every
 * partner feed's — takes partition 0 without hashing every key to learn it: the same answer.
 */
const onePartitionOrHashed: ICustomPartitioner = () => {
  const hashed = Partitioners.DefaultPartitioner();
  return (args) =>
    args.partitionMetadata.length === 1 && args.message.partition == null ? 0 : hashed(args);
};

/** Batches sent in one transaction as one: messages in order, each checkpoint's last value. */
function mergeBatches(batches: PublishBatch[]): PublishBatch {
  if (batches.length === 1) return batches[0];
  const topicMessages: TopicMessages[] = [];
  const byTopic = new Map<string, TopicMessages>();
  const checkpoints = new Map<string, number>();
  for (const batch of batches) {
    for (const { topic, messages } of batch.topicMessages) {
      const merged = byTopic.get(topic);
      if (merged) merged.messages = [...merged.messages, ...messages];
      else {
        const entry = { topic, messages: [...messages] };
        byTopic.set(topic, entry);
        topicMessages.push(entry);
      }
    }
    for (const [name, position] of batch.checkpoints) checkpoints.set(name, position);
  }
  return { topicMessages, checkpoints };
}
