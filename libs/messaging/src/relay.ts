import { StoredEvent } from '@truceline/domain';
import { EventStore, EVENTS_CHANNEL, SqlEventStore } from '@truceline/event-store';
import { Logger } from 'pino';
import { EVENTS_SOURCE, EVENTS_TOPIC, toKafkaMessage } from './cloud-event';
import { ensureTopics } from './kafka-client';
import { LeasedPublisher, PublishBatch, PublishSource, RelayOptions } from './leased-publisher';

/**
 * The events relay's least time between two Kafka transactions. At 500 events/s it started
 * 20–33 a second, each with a commit marker in nearly every one of the topic's 12 partitions
 * (a round's events have random keys), and the broker spent more on those than on the events;
 * Kafka Streams commits its exactly-once transactions every 100 ms by default too.
 */
export const EVENTS_TRANSACTION_INTERVAL_MS = 100;

export interface EventRelayOptions extends RelayOptions {
  /** Default truceline.events.v1; tests give each relay a topic of its own. */
  topic?: string;
  /** `ce_source` of the published events. */
  source?: string;
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

/**
 * Publishes the log to Kafka (STYLE habit 4: from the log, never from the request).
 *
 * Delivery: at least once, in position order, through the LeasedPublisher (one leader, fenced
 * twice over; the checkpoint `relay:<topic>` moves only after the broker committed the batch).
 * Consumers deduplicate by event id. The key is the incident id, so one incident's events share
 * a partition and keep the log's order.
 */
export class EventRelay implements PublishSource {
  readonly topic: string;
  readonly checkpointName: string;
  private readonly store: SqlEventStore;
  private readonly publisher: LeasedPublisher;
  private readonly logger: Logger;
  private readonly source: string;
  /** Events per Kafka transaction at most. */
  readonly batchSize: number;
  private readonly counters = { events: 0, batches: 0, position: 0 };
  /** The last position committed to Kafka and checkpointed. */
  private position = 0;
  /** The last position handed to the publisher (read ahead of `position` within a transaction). */
  private readPosition = 0;
  private currentBatchSize: number;
  /** The events read and not yet committed, in order (the transaction in flight's, then the next's). */
  private pending: StoredEvent[] = [];
  private unlisten?: () => Promise<void>;

  constructor(private readonly options: EventRelayOptions) {
    this.topic = options.topic ?? EVENTS_TOPIC;
    this.checkpointName = `relay:${this.topic}`;
    this.store = new SqlEventStore(options.sql);
    this.source = options.source ?? EVENTS_SOURCE;
    this.batchSize = options.batchSize ?? 1000;
    this.currentBatchSize = this.batchSize;
    const beforeCommit = options.beforeCommit;
    this.publisher = LeasedPublisher.forRelay(
      {
        ...options,
        transactionIntervalMs: options.transactionIntervalMs ?? EVENTS_TRANSACTION_INTERVAL_MS,
        beforeCommit:
          beforeCommit &&
          ((batch) => {
            const last = batch.checkpoints.get(this.checkpointName) ?? this.readPosition;
            return beforeCommit(this.pending.filter((event) => event.position <= last));
          }),
      },
      {
        leaseName: this.checkpointName,
        transactionalId: options.transactionalId ?? `truceline-relay.${this.topic}`,
        log: { component: 'relay', topic: this.topic },
      },
      this,
    );
    this.logger = this.publisher.logger;
  }

  /** Creates the lease table and the topic if needed, then leads or stands by in the background. */
  async start(): Promise<void> {
    await this.ensureTopic();
    this.unlisten = await this.options.sql
      .listen?.(EVENTS_CHANNEL, () => this.wake())
      .catch(() => undefined); // polling covers it
    await this.publisher.start();
  }

  /**
   * Finishes the batch in flight and stops. `release: false` leaves the lease to run out, as a
   * crash would (tests of failover).
   */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    await this.publisher.stop(options);
    await this.unlisten?.().catch(() => undefined);
    this.unlisten = undefined;
  }

  /** New events may be in the log: skip the rest of the idle wait. */
  wake(): void {
    this.publisher.wake();
  }

  isLeader(): boolean {
    return this.publisher.isLeader();
  }

  published(): RelayCounters {
    return { ...this.counters, takeovers: this.publisher.takeovers };
  }

  /** Events in the log not yet published (head − durable checkpoint), whoever leads. */
  async lag(): Promise<number> {
    const [head, checkpoint] = await Promise.all([
      this.store.headPosition(),
      this.store.readCheckpoint(this.checkpointName),
    ]);
    return Math.max(0, head - checkpoint);
  }

  async takeOver(checkpoints: Pick<EventStore, 'readCheckpoint'>): Promise<void> {
    this.position = await checkpoints.readCheckpoint(this.checkpointName);
    this.readPosition = this.position;
    this.pending = [];
  }

  async next(): Promise<PublishBatch | null> {
    const batch = await this.store.readAll({
      after: this.readPosition,
      limit: this.currentBatchSize,
    });
    if (batch.length === 0) return null;
    this.readPosition = batch[batch.length - 1].position;
    this.pending.push(...batch);
    return {
      topicMessages: [
        {
          topic: this.topic,
          messages: batch.map((event) => toKafkaMessage(event, { source: this.source })),
        },
      ],
      checkpoints: new Map([[this.checkpointName, batch[batch.length - 1].position]]),
      full: batch.length >= this.currentBatchSize,
    };
  }

  committed(batch: PublishBatch): void {
    const last = batch.checkpoints.get(this.checkpointName) ?? this.position;
    // What was read for the next transaction meanwhile stays pending.
    const events = this.pending.filter((event) => event.position <= last).length;
    this.pending = this.pending.slice(events);
    this.position = last;
    this.counters.events += events;
    this.counters.batches += 1;
    this.counters.position = last;
    this.currentBatchSize = Math.min(this.batchSize, this.currentBatchSize * 2);
    this.logger.debug({ position: last, events }, 'published');
  }

  /**
   * What was read ahead is read again, after the last position committed. A batch the broker
   * refuses as too large is retried in halves, down to single events; the size grows back by
   * doubling after each transaction that went through.
   */
  failed(error: unknown): void {
    this.readPosition = this.position;
    this.pending = [];
    const type = (error as { type?: unknown; cause?: { type?: unknown } } | null) ?? {};
    const code = type.type ?? type.cause?.type;
    if (code === 'MESSAGE_TOO_LARGE' || code === 'RECORD_LIST_TOO_LARGE') {
      this.currentBatchSize = Math.max(1, Math.floor(this.currentBatchSize / 2));
    }
  }

  private async ensureTopic(): Promise<void> {
    const created = await ensureTopics(this.options.kafka, [this.topic], {
      numPartitions: this.options.numPartitions,
      replicationFactor: this.options.replicationFactor,
    });
    if (created) this.logger.info('created the topic');
  }
}
