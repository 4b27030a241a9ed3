import { incidentIdOf, StoredEvent } from '@truceline/domain';
import { SqlClient } from '@truceline/event-store';
import { Admin, Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import pino, { Logger } from 'pino';
import { Registry } from 'prom-client';
import { EVENTS_TOPIC, fromKafkaMessage } from '../cloud-event';
import { ConsumerLedger, migrateConsumerLedger, ParkedPayload } from './consumer-ledger';
import { ConsumerMetrics } from './consumer-metrics';

/** Where a message came from, handed to the handler beside the event. */
export interface ConsumedMessage {
  topic: string;
  partition: number;
  offset: string;
  /** The W3C trace context the message carried, if any (also in event.metadata.traceparent). */
  traceparent?: string;
  /** The consumer's logger bound to this message's event id, type, incident and trace. */
  logger: Logger;
}

/**
 * Handles one event. Resolving means the effect is durable; throwing means a transient failure
 * (retried, then parked). Expected outcomes, such as an incident that no longer needs the
 * reaction, resolve (STYLE habit 6).
 */
export type MessageHandler = (event: StoredEvent, message: ConsumedMessage) => Promise<void>;

export interface ConsumerRetryPolicy {
  /** Handler attempts before the message is parked (the first one included). */
  attempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_CONSUMER_RETRY: ConsumerRetryPolicy = {
  attempts: 5,
  initialDelayMs: 200,
  maxDelayMs: 5000,
};

export interface EventConsumerOptions {
  kafka: Kafka;
  /** The consumer group, `truceline.<service>` (see consumerGroupOf). */
  groupId: string;
  /** The database of the handler's effects: the ledger of handled and parked messages lives there. */
  sql: SqlClient;
  handler: MessageHandler;
  topic?: string;
  logger?: Logger;
  /** The process's metrics registry; consumers of one process share its metrics. */
  registry?: Registry;
  retry?: Partial<ConsumerRetryPolicy>;
  /** Partitions handled at once; each partition stays sequential (per-incident order). */
  partitionsConsumedConcurrently?: number;
  sessionTimeoutMs?: number;
  /** How long a fetch waits for data (kafkajs default 5 s); a rebalance is noticed after it. */
  maxWaitTimeInMs?: number;
  /**
   * How often the lag is measured from the broker (high watermark − committed offset of each
   * owned partition; default 15 s, 0: never). Between measurements each batch updates it.
   */
  lagIntervalMs?: number;
  /** How long start() waits for the relay to create the topic (default 60 s). */
  topicWaitMs?: number;
  /**
   * kafkajs gave up on the consumer (`restart: false`): the process should exit so that its
   * supervisor starts it again. Retriable crashes are restarted by kafkajs itself.
   */
  onCrash?: (error: Error, restart: boolean) => void;
}

type Outcome = 'handled' | 'duplicate' | 'parked' | 'interrupted';

/**
 * How long stop() waits for a lag measurement in flight to end. Longer, it is left to end on its
 * own (see stop): a shutdown is not held up by a broker that is gone or does not answer, which the
 * measurement would otherwise wait out (its requests time out after 30 s, the client's connection
 * and metadata retries take about a minute).
 */
export const STOP_LAG_WAIT_MS = 1_000;

/** The consumer group of a service: each service sees every event once, whatever its instances. */
export const consumerGroupOf = (service: string): string => `truceline.${service}`;

/**
 * Runs a handler over a Kafka topic of Truceline events with at-least-once delivery turned into
 * an effect-once guarantee:
 * - the offset of a message is committed only after its handler resolved and its event id was
 *   recorded in `consumer_processed`, so a crash at any point redelivers rather than loses it;
 * - a redelivered event id already recorded for the group is skipped (handlers are idempotent
 *   as well, for the window between their effect and that record);
 * - a failing handler is retried with exponential backoff, then the message is parked in
 *   `parked_messages` and the partition moves on; an unreadable message is parked at once.
 * Partitions are processed one message at a time, in offset order: the relay keys every event
 * by incident id, so each incident's events arrive in order.
 */
export class EventConsumer {
  private readonly consumer: Consumer;
  private readonly ledger: ConsumerLedger;
  private readonly metrics: ConsumerMetrics;
  private readonly logger: Logger;
  private readonly retry: ConsumerRetryPolicy;
  private readonly topic: string;
  private readonly aborter = new AbortController();
  private readonly untrack: () => void;
  private assignment: number[] = [];
  /** Partitions this member reported a lag for since it last joined. */
  private readonly lagSeries = new Set<number>();
  private running = false;
  private stopped: Promise<void> | null = null;
  private admin: Admin | null = null;
  private lagTimer: NodeJS.Timeout | null = null;
  /** The lag measurement in flight, if any: one at a time (see stop). */
  private measuring: Promise<void> | null = null;

  constructor(private readonly options: EventConsumerOptions) {
    this.topic = options.topic ?? EVENTS_TOPIC;
    this.retry = { ...DEFAULT_CONSUMER_RETRY, ...options.retry };
    this.logger = (options.logger ?? pino({ enabled: false })).child({ group: options.groupId });
    this.ledger = new ConsumerLedger(options.sql, options.groupId);
    this.metrics = ConsumerMetrics.of(options.registry ?? new Registry());
    this.untrack = this.metrics.track(this.ledger);
    this.consumer = options.kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      maxWaitTimeInMs: options.maxWaitTimeInMs,
      // The relay creates the topic with its partitions; a consumer must not create it first.
      allowAutoTopicCreation: false,
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
      this.assignment = [...(payload.memberAssignment[this.topic] ?? [])].sort((a, b) => a - b);
      // Lag of partitions now owned by another member is theirs to report.
      this.forgetLag();
      this.logger.info(
        { memberId: payload.memberId, partitions: this.assignment },
        'joined the consumer group',
      );
    });
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      this.logger.error(
        { err: payload.error, restart: payload.restart },
        payload.restart ? 'consumer crashed; kafkajs restarts it' : 'consumer crashed for good',
      );
      options.onCrash?.(payload.error, payload.restart);
    });
  }

  /** Creates the ledger tables, joins the group and starts consuming; resolves once joined. */
  static async start(options: EventConsumerOptions): Promise<EventConsumer> {
    const consumer = new EventConsumer(options);
    await consumer.start();
    return consumer;
  }

  get groupId(): string {
    return this.options.groupId;
  }

  /** The partitions of the topic this member owns since the last rebalance. */
  get partitions(): readonly number[] {
    return this.assignment;
  }

  get isRunning(): boolean {
    return this.running;
  }

  async start(): Promise<void> {
    await migrateConsumerLedger(this.options.sql);
    await this.waitForTopic(this.options.topicWaitMs ?? 60_000);
    await this.consumer.connect();
    // A new group starts at the beginning of the log; a known one resumes at its commits.
    await this.consumer.subscribe({ topics: [this.topic], fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 4,
      eachBatch: (payload) => this.eachBatch(payload),
    });
    this.running = true;
    const lagIntervalMs = this.options.lagIntervalMs ?? 15_000;
    if (lagIntervalMs > 0) {
      // A failed measurement is not retried (the next one comes within the interval): with the
      // client's retries a measurement against a broker gone would go on for about a minute.
      // kafkajs applies this only to the admin's own requests: its connection and metadata
      // retries still follow the client's settings, hence the bound in disconnectAdmin.
      this.admin = this.options.kafka.admin({ retry: { retries: 0 } });
      await this.admin.connect();
      this.lagTimer = setInterval(() => void this.measureLag(), lagIntervalMs);
      this.lagTimer.unref();
      void this.measureLag();
    }
  }

  /**
   * Lag from the broker's view: it keeps growing while a partition is stuck in a backoff or
   * nothing is fetched, which the batches alone cannot show.
   */
  private measureLag(): Promise<void> {
    this.measuring ??= this.measureLagOnce().finally(() => (this.measuring = null));
    return this.measuring;
  }

  private async measureLagOnce(): Promise<void> {
    const admin = this.admin;
    const owned = this.assignment;
    if (!admin || owned.length === 0 || !this.running) return;
    try {
      const [highs, [committed]] = await Promise.all([
        admin.fetchTopicOffsets(this.topic),
        admin.fetchOffsets({ groupId: this.groupId, topics: [this.topic] }),
      ]);
      if (!this.running) return;
      for (const partition of owned) {
        const high = highs.find((p) => p.partition === partition);
        if (!high) continue;
        const offset = committed?.partitions.find((p) => p.partition === partition)?.offset;
        // No commit yet: a new group starts at the beginning of what the partition holds.
        const from = offset !== undefined && Number(offset) >= 0 ? offset : high.low;
        this.lagSeries.add(partition);
        this.metrics.lag.set(
          { group: this.groupId, topic: this.topic, partition: String(partition) },
          Number(BigInt(high.high) - BigInt(from)),
        );
      }
    } catch (error) {
      this.logger.debug({ err: error }, 'could not measure the lag; trying again later');
    }
  }

  /**
   * Finishes the message in flight (a backoff wait is cut short, leaving that message
   * uncommitted for the next owner), leaves the group and disconnects. Idempotent.
   */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.running = false;
      this.aborter.abort();
      if (this.lagTimer) clearInterval(this.lagTimer);
      try {
        await this.consumer.disconnect();
        await this.disconnectAdmin();
      } finally {
        this.untrack();
        this.forgetLag();
      }
    })();
    return this.stopped;
  }

  /**
   * The admin client connects to the brokers a request needs as it goes: a measurement still in
   * flight when it is disconnected opens a connection that nothing would close, and the process
   * could not end. So the admin is disconnected once the measurement has ended (its errors are
   * its own: measureLagOnce catches them). A measurement that has not ended within
   * STOP_LAG_WAIT_MS (a broker gone or stalled) is not waited for: the admin is disconnected now,
   * which closes its idle connections (one with a request in flight closes when that request
   * ends), and again when the measurement ends, which closes what it opened meanwhile.
   */
  private async disconnectAdmin(): Promise<void> {
    const admin = this.admin;
    if (!admin) return;
    const measuring = this.measuring;
    if (measuring && !(await settlesWithin(measuring, STOP_LAG_WAIT_MS))) {
      this.logger.debug('a lag measurement is still in flight; its connections close when it ends');
      const disconnect = () =>
        admin.disconnect().catch((error: unknown) => {
          this.logger.debug({ err: error }, 'could not disconnect the lag admin client');
        });
      void disconnect();
      void measuring.then(disconnect);
      return;
    }
    await admin.disconnect();
  }

  /** Lag of partitions now owned by another member (or by nobody) is not ours to report. */
  private forgetLag(): void {
    for (const partition of this.lagSeries) {
      this.metrics.lag.remove({
        group: this.groupId,
        topic: this.topic,
        partition: String(partition),
      });
    }
    this.lagSeries.clear();
  }

  /** The relay creates the topic with its partition count; a consumer may start before it. */
  private async waitForTopic(timeoutMs: number): Promise<void> {
    const admin = this.options.kafka.admin();
    await admin.connect();
    try {
      const deadline = Date.now() + timeoutMs;
      for (let logged = false; !(await admin.listTopics()).includes(this.topic); logged = true) {
        if (Date.now() > deadline) {
          throw new Error(`topic ${this.topic} does not exist after ${timeoutMs} ms`);
        }
        if (!logged)
          this.logger.info({ topic: this.topic }, 'waiting for the relay to create the topic');
        await sleep(500, this.aborter.signal);
      }
    } finally {
      await admin.disconnect();
    }
  }

  private async eachBatch({
    batch,
    resolveOffset,
    heartbeat,
    commitOffsetsIfNecessary,
    isRunning,
    isStale,
  }: EachBatchPayload): Promise<void> {
    const { topic, partition } = batch;
    const highWatermark = BigInt(batch.highWatermark);
    const lagLabels = { group: this.groupId, topic, partition: String(partition) };
    this.lagSeries.add(partition);
    const last = batch.messages[batch.messages.length - 1];
    for (const message of batch.messages) {
      // After a seek or a rebalance the rest of this batch is no longer ours to handle.
      if (!isRunning() || isStale() || this.aborter.signal.aborted) return;
      this.metrics.lag.set(lagLabels, Number(highWatermark - BigInt(message.offset)));
      const outcome = await this.process(topic, partition, message, heartbeat);
      if (outcome === 'interrupted') return;
      // After the batch's last message, commit past the control records that follow it (the
      // relay publishes in transactions), so a caught-up group shows a lag of 0.
      const through = message === last ? batch.lastOffset() : message.offset;
      const next = (BigInt(through) + 1n).toString();
      // The commit goes through even while stopping: the effect is durable, so record it.
      await commitOffsetsIfNecessary({
        topics: [{ topic, partitions: [{ partition, offset: next }] }],
      });
      resolveOffset(message.offset);
      this.metrics.lag.set(lagLabels, Number(highWatermark - BigInt(next)));
      if (outcome === 'handled') this.metrics.processed.inc({ group: this.groupId, topic });
      await heartbeat();
    }
  }

  private async process(
    topic: string,
    partition: number,
    message: KafkaMessage,
    heartbeat: () => Promise<void>,
  ): Promise<Outcome> {
    const where = { topic, partition, offset: message.offset };
    const traceparent = headerText(message.headers, 'traceparent');
    let event: StoredEvent;
    try {
      event = fromKafkaMessage({
        key: message.key,
        value: message.value,
        headers: message.headers ?? {},
      });
    } catch (error) {
      // Reading it again cannot succeed: park at once.
      const eventId = headerText(message.headers, 'ce_id') ?? null;
      await this.park(where, message, eventId, error, this.logger.child({ ...where, eventId }));
      return 'parked';
    }
    if (traceparent) event = { ...event, metadata: { ...event.metadata, traceparent } };
    const logger = this.logger.child({
      ...where,
      eventId: event.id,
      type: event.type,
      incidentId: incidentIdOf(event.streamId) ?? undefined,
      correlationId: event.metadata.correlationId,
      traceparent: event.metadata.traceparent,
    });

    if (await this.ledger.isProcessed(event.id)) {
      logger.debug('already handled by the group: skipped');
      this.metrics.duplicates.inc({ group: this.groupId, topic });
      return 'duplicate';
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await this.options.handler(event, {
          ...where,
          traceparent: event.metadata.traceparent,
          logger,
        });
        break;
      } catch (error) {
        if (attempt >= this.retry.attempts) {
          await this.park(where, message, event.id, error, logger);
          return 'parked';
        }
        const delayMs = Math.min(
          this.retry.maxDelayMs,
          this.retry.initialDelayMs * 2 ** (attempt - 1),
        );
        this.metrics.retried.inc({ group: this.groupId, topic });
        logger.warn({ err: error, attempt, delayMs }, 'handler failed; retrying after a backoff');
        if (!(await sleep(delayMs, this.aborter.signal))) {
          logger.info('stopping: left uncommitted for redelivery');
          return 'interrupted';
        }
        // Tell the coordinator this member is alive while it waits; throws on a rebalance,
        // which leaves the message uncommitted for whoever owns the partition next.
        await heartbeat();
      }
    }
    await this.ledger.markProcessed(event.id);
    logger.debug('handled');
    return 'handled';
  }

  private async park(
    where: { topic: string; partition: number; offset: string },
    message: KafkaMessage,
    eventId: string | null,
    error: unknown,
    logger: Logger,
  ): Promise<void> {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    // If parking fails (database down) this throws and the message stays uncommitted.
    await this.ledger.park({ ...where, eventId, error: reason, payload: payloadOf(message) });
    this.metrics.parked.inc({ group: this.groupId, topic: where.topic });
    logger.error({ err: error }, 'message parked: the partition moves on without it');
  }
}

function headerText(headers: IHeaders | undefined, name: string): string | undefined {
  const raw = headers?.[name];
  const value = Array.isArray(raw) ? raw[0] : raw;
  return value === undefined ? undefined : value.toString();
}

function payloadOf(message: KafkaMessage): ParkedPayload {
  const headers: Record<string, string> = {};
  for (const name of Object.keys(message.headers ?? {})) {
    const value = headerText(message.headers, name);
    if (value !== undefined) headers[name] = value;
  }
  const value = message.value;
  const text = value?.toString('utf8');
  const utf8 = value === null || Buffer.from(text ?? '', 'utf8').equals(value);
  return {
    key: message.key?.toString() ?? null,
    headers,
    value: value === null ? null : utf8 ? (text as string) : value.toString('base64'),
    valueEncoding: utf8 ? 'utf8' : 'base64',
  };
}

/** Resolves true after `ms`, or false at once when the signal aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Whether `promise` settles within `ms` (its outcome is left to its own handlers). */
function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return Promise.race([promise.then(() => true), late]).finally(() => clearTimeout(timer));
}
