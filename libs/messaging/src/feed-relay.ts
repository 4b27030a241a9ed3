import { performance } from 'node:perf_hooks';
import { SqlEventStore } from '@truceline/event-store';
import {
  FEED_CHANNEL,
  FeedEntry,
  FeedQueries,
  MAX_FEED_PAGE,
  migratePartnerFeed,
} from '@truceline/projections';
import { feedTopic, OutgoingKafkaMessage } from './cloud-event';
import { ensureTopics } from './kafka-client';
import {
  DEFAULT_POLL_INTERVAL_MS,
  LeasedPublisher,
  PublishBatch,
  PublishSource,
  RelayOptions,
} from './leased-publisher';

export interface FeedRelayOptions extends RelayOptions {
  /** Partners whose topics are created at start; others are created when they first get entries. */
  partners?: string[];
  /** Topic of a partner's feed; default `truceline.feed.<partner>.v1`. Tests use their own. */
  topicOf?: (partner: string) => string;
}

const FEED_SOURCE = '/truceline/feeds';

/**
 * Partitions of a feed topic the relay creates. A partner's feed is one sequence (`ce_seq`): on
 * one partition it reaches the ministry in that order, as over HTTP, and one ministry's traffic
 * never needs more. It also keeps each Kafka transaction small: the broker adds every partition
 * a transaction writes to and writes a commit marker into each, and a round that touched ten
 * feeds of 12 partitions each took about 200 ms to send where ten single partitions take 20.
 */
export const FEED_PARTITIONS = 1;

/**
 * Key and subject of a notice about the whole log (LogCheckpoint) rather than an incident: one
 * key, so the checkpoints stay in order among themselves in one partition.
 */
export const LOG_SUBJECT = 'log';

/**
 * A feed entry as a CloudEvents 1.0 binary-mode message, as on the events topic (SPEC §7):
 * `ce_id` is the entry's id (the event's, or the notice's deterministic one), `ce_seq` its
 * place in the partner's feed, the key the incident so one incident keeps its order (`log` for
 * a LogCheckpoint).
 */
export function toFeedMessage(
  partner: string,
  entry: FeedEntry,
  value: string = JSON.stringify(entry.data),
): OutgoingKafkaMessage {
  const subject = entry.incidentId ?? LOG_SUBJECT;
  return {
    key: subject,
    value,
    headers: {
      ce_specversion: '1.0',
      ce_id: entry.id,
      ce_type: `truceline.${entry.type}.v1`,
      ce_source: `${FEED_SOURCE}/${partner.toLowerCase()}`,
      ce_subject: subject,
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
 * Publishes each partner's feed to its own topic in seq order (at least once), through the
 * LeasedPublisher: one leader at a time, fenced as the EventRelay is. A round sends every
 * partner's pending entries in one Kafka transaction; the per-partner checkpoints
 * `relay:<topic>` advance only after the broker committed it.
 */
export class FeedRelay implements PublishSource {
  private readonly feeds: FeedQueries;
  private readonly store: SqlEventStore;
  private readonly publisher: LeasedPublisher;
  private readonly topicOf: (partner: string) => string;
  /** Per checkpoint name: the last seq committed to Kafka and checkpointed. */
  private readonly checkpoints = new Map<string, number>();
  /** Per checkpoint name: the last seq handed to the publisher (read ahead within a transaction). */
  private readonly reading = new Map<string, number>();
  private readonly topics = new Set<string>();
  /** The partners (with entries) whose checkpoints this leadership has read. */
  private readonly partners = new Set<string>();
  private readonly values = new WeakMap<object, string>();
  private unlisten?: () => Promise<void>;
  /**
   * Whether entries may have been committed since the last read began: a NOTIFY came, the last
   * read stopped at its page size, or nothing was read yet. Only while listening.
   */
  private maybePending = true;
  /** When the last read began (performance.now()). */
  private lastReadAt = -Infinity;

  constructor(private readonly options: FeedRelayOptions) {
    this.feeds = new FeedQueries(options.sql);
    this.store = new SqlEventStore(options.sql);
    this.topicOf = options.topicOf ?? feedTopic;
    const transactionalId = options.transactionalId ?? 'truceline-relay.feeds';
    this.publisher = LeasedPublisher.forRelay(
      options,
      { leaseName: `relay:${transactionalId}`, transactionalId, log: { component: 'feed-relay' } },
      this,
    );
  }

  checkpointName(partner: string): string {
    return `relay:${this.topicOf(partner)}`;
  }

  async start(): Promise<void> {
    // The API's projector fills the table; the relay may be the first process up.
    await migratePartnerFeed(this.options.sql);
    await this.ensureTopics(this.options.partners ?? []);
    // The projector (in the API processes) notifies once entries are committed: the relay
    // publishes them at once rather than at its next poll.
    this.unlisten = await this.options.sql
      .listen?.(FEED_CHANNEL, () => {
        this.maybePending = true;
        this.publisher.wake();
      })
      .catch(() => undefined); // polling covers it
    await this.publisher.start();
  }

  async stop(options: { release?: boolean } = {}): Promise<void> {
    await this.publisher.stop(options);
    await this.unlisten?.().catch(() => undefined);
    this.unlisten = undefined;
  }

  isLeader(): boolean {
    return this.publisher.isLeader();
  }

  /** Feed entries not yet published, over all partners (head − checkpoint). */
  async lag(): Promise<number> {
    let lag = 0;
    for (const [partner, head] of await this.feeds.heads()) {
      lag += Math.max(0, head - (await this.store.readCheckpoint(this.checkpointName(partner))));
    }
    return lag;
  }

  /** Checkpoints are read afresh by a new leader: another instance may have moved them. */
  async takeOver(): Promise<void> {
    this.checkpoints.clear();
    this.reading.clear();
    this.partners.clear();
    this.maybePending = true;
  }

  /** Each partner whose checkpoint is known: the last seq read (ahead) or else committed. */
  private cursors(): Map<string, number> {
    const cursors = new Map<string, number>();
    for (const partner of this.partners) {
      const name = this.checkpointName(partner);
      cursors.set(partner, this.reading.get(name) ?? this.checkpoints.get(name) ?? 0);
    }
    return cursors;
  }

  /** Every partner's next entries, for one transaction; null when there is nothing to send. */
  async next(): Promise<PublishBatch | null> {
    // Listening, a read that follows one at the tail within the poll interval, with no NOTIFY
    // between, would find nothing (the projector notifies after every commit of entries): the
    // relay asks after each send of a transaction and again after its commit, and at the tail
    // most of those reads came back empty, each costing the server a round's probes. The poll
    // interval still bounds how long a missed NOTIFY (or an entry written without one) waits.
    const now = performance.now();
    if (
      this.unlisten &&
      !this.maybePending &&
      now - this.lastReadAt < (this.options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS)
    )
      return null;
    // Cleared before the read: a NOTIFY of a commit the read may not see comes after this.
    this.maybePending = false;
    this.lastReadAt = now;
    const batch = await this.read();
    if (batch?.full) this.maybePending = true;
    return batch;
  }

  private async read(): Promise<PublishBatch | null> {
    const pageSize = Math.min(this.options.batchSize ?? 200, MAX_FEED_PAGE);
    // Every partner's page in one round trip (and one for their items), the partners found in
    // it too: a partner new to this leadership needs its checkpoint first, then the pages again.
    const round = await this.feeds.pendingPages(this.cursors(), pageSize);
    let pages = round.pages;
    if (round.unknown.length > 0) {
      for (const partner of round.unknown) {
        await this.checkpoint(partner);
        this.partners.add(partner);
      }
      pages = (await this.feeds.pendingPages(this.cursors(), pageSize)).pages;
    }
    const pending = [...pages]
      .map(([partner, entries]) => ({ partner, entries }))
      .filter(({ entries }) => entries.length > 0);
    if (pending.length === 0) return null;
    await this.ensureTopics(pending.map((p) => p.partner));
    for (const { partner, entries } of pending)
      this.reading.set(this.checkpointName(partner), entries[entries.length - 1].seq);
    return {
      topicMessages: pending.map(({ partner, entries }) => ({
        topic: this.topicOf(partner),
        messages: entries.map((entry) => toFeedMessage(partner, entry, this.valueOf(entry.data))),
      })),
      checkpoints: new Map(
        pending.map(({ partner, entries }) => [
          this.checkpointName(partner),
          entries[entries.length - 1].seq,
        ]),
      ),
      full: pending.some(({ entries }) => entries.length >= pageSize),
    };
  }

  /**
   * The message value of an entry's data: an event or a notice goes to every partner it is
   * released to as the same data (one object, see FeedQueries.pages), serialised once.
   */
  private valueOf(data: unknown): string {
    if (typeof data !== 'object' || data === null) return JSON.stringify(data);
    let value = this.values.get(data);
    if (value === undefined) this.values.set(data, (value = JSON.stringify(data)));
    return value;
  }

  committed(batch: PublishBatch): void {
    for (const [name, seq] of batch.checkpoints) this.checkpoints.set(name, seq);
  }

  /** What was read ahead goes again, after each partner's last committed seq. */
  failed(): void {
    this.reading.clear();
    this.maybePending = true;
  }

  private async checkpoint(partner: string): Promise<number> {
    const name = this.checkpointName(partner);
    let position = this.checkpoints.get(name);
    if (position === undefined) {
      position = await this.store.readCheckpoint(name);
      this.checkpoints.set(name, position);
    }
    return position;
  }

  private async ensureTopics(partners: string[]): Promise<void> {
    const missing = partners.map(this.topicOf).filter((t) => !this.topics.has(t));
    if (missing.length === 0) return;
    await ensureTopics(this.options.kafka, missing, {
      numPartitions: this.options.numPartitions ?? FEED_PARTITIONS,
      replicationFactor: this.options.replicationFactor,
    });
    missing.forEach((t) => this.topics.add(t));
  }
}
