import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { SqlClient, SqlEventStore } from '@truceline/event-store';
import { FeedEntry, FeedQueries, migratePartnerFeed } from '@truceline/projections';
import { Kafka, Partitioners, Producer, TopicMessages } from 'kafkajs';
import pino, { Logger } from 'pino';
import { feedTopic, OutgoingKafkaMessage } from './cloud-event';
import { ensureTopics } from './kafka-client';
import { LeaseLostError, RelayLease } from './relay-lease';

export interface FeedRelayOptions {
  /** The database holding the partner feeds, the lease and the checkpoints. */
  sql: SqlClient;
  kafka: Kafka;
  /** Partners whose topics are created at start; others are created when they first get entries. */
  partners?: string[];
  /** Topic of a partner's feed; default `truceline.feed.<partner>.v1`. Tests use their own. */
  topicOf?: (partner: string) => string;
  /** Shared by every instance, so a new leader's producer fences the old one's. */
  transactionalId?: string;
  numPartitions?: number;
  replicationFactor?: number;
  /** Entries per partner per Kafka transaction (default 200). */
  batchSize?: number;
  pollIntervalMs?: number;
  leaseTtlMs?: number;
  leaseRenewMs?: number;
  instanceId?: string;
  logger?: Logger;
}

const FEED_SOURCE = '/truceline/feeds';
const MAX_BACKOFF_MS = 5_000;

/**
 * A feed entry as a CloudEvents 1.0 binary-mode message, as on the events topic (SPEC §7):
 * `ce_id` is the entry's id (the event's, or the tier notice's deterministic one), `ce_seq` its
 * place in the partner's feed, the key the incident so one incident keeps its order.
 */
export function toFeedMessage(partner: string, entry: FeedEntry): OutgoingKafkaMessage {
  return {
    key: entry.incidentId,
    value: JSON.stringify(entry.data),
    headers: {
      ce_specversion: '1.0',
      ce_id: entry.id,
      ce_type: `truceline.${entry.type}.v1`,
      ce_source: `${FEED_SOURCE}/${partner.toLowerCase()}`,
      ce_subject: entry.incidentId,
      ce_time: entry.occurredAt,
      'content-type': 'application/json',
      ce_seq: String(entry.seq),
      ce_position: String(entry.position),
      ce_recordedat: entry.recordedAt,
      // Drill data is marked as on the events topic (SPEC §2, §7).
      ...(entry.exercise ? { ce_exercise: 'true' } : {}),
    },
  };
}

/**
 * Publishes each partner's feed to its own topic in seq order (at least once). One leader at a
 * time, as for the EventRelay: a lease row in the database, and a transactional producer whose
 * id fences a previous leader. A round sends every partner's pending entries in one Kafka
 * transaction; the per-partner checkpoints `relay:<topic>` advance only after the broker
 * committed it, in a database transaction that checks the lease is still held.
 */
export class FeedRelay {
  private readonly feeds: FeedQueries;
  private readonly store: SqlEventStore;
  private readonly lease: RelayLease;
  private readonly logger: Logger;
  private readonly topicOf: (partner: string) => string;
  private readonly checkpoints = new Map<string, number>();
  private readonly topics = new Set<string>();
  private producer?: Producer;
  private stopped = true;
  private loops: Promise<void>[] = [];
  private readonly sleepers = new Set<() => void>();

  constructor(private readonly options: FeedRelayOptions) {
    this.feeds = new FeedQueries(options.sql);
    this.store = new SqlEventStore(options.sql);
    this.topicOf = options.topicOf ?? feedTopic;
    const instanceId = options.instanceId ?? `${hostname()}:${process.pid}:${randomUUID()}`;
    const name = `relay:${options.transactionalId ?? 'truceline-relay.feeds'}`;
    this.lease = new RelayLease(options.sql, name, instanceId, options.leaseTtlMs ?? 5_000);
    this.logger = (options.logger ?? pino({ enabled: false })).child({
      component: 'feed-relay',
      instance: instanceId,
    });
  }

  checkpointName(partner: string): string {
    return `relay:${this.topicOf(partner)}`;
  }

  async start(): Promise<void> {
    if (!this.stopped) throw new Error('feed relay already started');
    await RelayLease.migrate(this.options.sql);
    // The API's projector fills the table; the relay may be the first process up.
    await migratePartnerFeed(this.options.sql);
    await this.ensureTopics(this.options.partners ?? []);
    this.stopped = false;
    await this.lease.acquire().catch(() => false);
    this.loops = [this.leaseLoop(), this.publishLoop()];
  }

  async stop(options: { release?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const wake of [...this.sleepers]) wake();
    await Promise.all(this.loops);
    this.loops = [];
    if (options.release !== false) await this.lease.release().catch(() => undefined);
  }

  isLeader(): boolean {
    return !this.stopped && this.lease.held();
  }

  /** Feed entries not yet published, over all partners (head − checkpoint). */
  async lag(): Promise<number> {
    let lag = 0;
    for (const [partner, head] of await this.feeds.heads()) {
      lag += Math.max(0, head - (await this.store.readCheckpoint(this.checkpointName(partner))));
    }
    return lag;
  }

  private async ensureTopics(partners: string[]): Promise<void> {
    const missing = partners.map(this.topicOf).filter((t) => !this.topics.has(t));
    if (missing.length === 0) return;
    await ensureTopics(this.options.kafka, missing, {
      numPartitions: this.options.numPartitions,
      replicationFactor: this.options.replicationFactor,
    });
    missing.forEach((t) => this.topics.add(t));
  }

  private async leaseLoop(): Promise<void> {
    while (!this.stopped) {
      await this.sleep(this.options.leaseRenewMs ?? 1_000);
      if (this.stopped) break;
      await this.lease.acquire().catch((error: unknown) => {
        this.logger.warn({ err: error }, 'could not renew the feed relay lease');
      });
    }
  }

  private async publishLoop(): Promise<void> {
    let backoff = 100;
    while (!this.stopped) {
      try {
        if (!this.lease.held()) {
          await this.standDown();
          await this.sleep(this.options.leaseRenewMs ?? 1_000);
          continue;
        }
        if (!this.producer) await this.takeOver();
        const published = await this.publishRound();
        if (!published) await this.sleep(this.options.pollIntervalMs ?? 150);
        backoff = 100;
      } catch (error) {
        if (error instanceof LeaseLostError) this.logger.warn(error.message);
        else this.logger.error({ err: error }, 'feed relay round failed');
        // The transaction's fate is unknown: a new producer aborts whatever the old one left open.
        await this.standDown();
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
    await this.standDown();
  }

  private async takeOver(): Promise<void> {
    const producer = this.options.kafka.producer({
      transactionalId: this.options.transactionalId ?? 'truceline-relay.feeds',
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries: 5 },
    });
    try {
      await producer.connect();
      const init = await producer.transaction();
      await init.commit();
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw error;
    }
    // Checkpoints are read afresh by a new leader: another instance may have moved them.
    this.checkpoints.clear();
    this.producer = producer;
    this.logger.info('leading: publishing the partner feeds from their checkpoints');
  }

  private async standDown(): Promise<void> {
    const producer = this.producer;
    if (!producer) return;
    this.producer = undefined;
    await producer.disconnect().catch(() => undefined);
  }

  private async checkpoint(partner: string): Promise<number> {
    let position = this.checkpoints.get(partner);
    if (position === undefined) {
      position = await this.store.readCheckpoint(this.checkpointName(partner));
      this.checkpoints.set(partner, position);
    }
    return position;
  }

  /** One transaction with every partner's next entries; false when there was nothing to send. */
  private async publishRound(): Promise<boolean> {
    const pending: { partner: string; entries: FeedEntry[] }[] = [];
    for (const [partner, head] of await this.feeds.heads()) {
      const after = await this.checkpoint(partner);
      if (head <= after) continue;
      const entries = await this.feeds.page(partner, after, this.options.batchSize ?? 200);
      if (entries.length > 0) pending.push({ partner, entries });
    }
    if (pending.length === 0) return false;
    await this.ensureTopics(pending.map((p) => p.partner));
    const producer = this.producer;
    if (!producer || !this.lease.held()) return false;
    const topicMessages: TopicMessages[] = pending.map(({ partner, entries }) => ({
      topic: this.topicOf(partner),
      messages: entries.map((entry) => toFeedMessage(partner, entry)),
    }));
    const transaction = await producer.transaction();
    try {
      await transaction.sendBatch({ topicMessages, acks: -1 });
      await transaction.commit();
    } catch (error) {
      if (transaction.isActive()) await transaction.abort().catch(() => undefined);
      throw error;
    }
    await this.lease.whileHeld(async (tx) => {
      const checkpoints = new SqlEventStore(tx);
      for (const { partner, entries } of pending) {
        await checkpoints.writeCheckpoint(
          this.checkpointName(partner),
          entries[entries.length - 1].seq,
        );
      }
    });
    for (const { partner, entries } of pending) {
      this.checkpoints.set(partner, entries[entries.length - 1].seq);
    }
    return true;
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }
}
