import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { openDatabase, SqlClient, SqlEventStore } from '@truceline/event-store';
import { Kafka } from 'kafkajs';
import pino from 'pino';
import { createKafka, ensureTopics, parseBrokers } from './kafka-client';
import { LeasedPublisher, PublishBatch, PublishSource } from './leased-publisher';

/**
 * How many of a source's batches one Kafka transaction carries, against the real broker of the
 * test run and an embedded database for the lease and the checkpoints.
 */
jest.setTimeout(60_000);

/** A source of `total` batches of one message each, every one `full` or not as told. */
class CountingSource implements PublishSource {
  private read = 0;
  private committedUpTo = 0;

  constructor(
    private readonly topic: string,
    private readonly total: number,
    private readonly full: boolean,
  ) {}

  get committedCount(): number {
    return this.committedUpTo;
  }

  async takeOver(): Promise<void> {
    this.read = this.committedUpTo;
  }

  async next(): Promise<PublishBatch | null> {
    if (this.read >= this.total) return null;
    this.read += 1;
    return {
      topicMessages: [{ topic: this.topic, messages: [{ key: 'k', value: String(this.read) }] }],
      checkpoints: new Map([[`publisher-spec:${this.topic}`, this.read]]),
      full: this.full,
    };
  }

  committed(batch: PublishBatch): void {
    this.committedUpTo = batch.checkpoints.get(`publisher-spec:${this.topic}`) ?? 0;
  }

  failed(): void {
    this.read = this.committedUpTo;
  }
}

describe(LeasedPublisher.name, () => {
  let kafka: Kafka;
  let sql: SqlClient;
  let store: SqlEventStore;
  const publishers: LeasedPublisher[] = [];

  beforeAll(() => {
    const brokers = process.env.KAFKA_BROKERS;
    if (!brokers) throw new Error('KAFKA_BROKERS is not set: run through jest (global setup)');
    kafka = createKafka({ brokers: parseBrokers(brokers), clientId: 'publisher-int-spec' });
  });

  beforeEach(async () => {
    sql = await openDatabase({ inMemory: true });
    store = new SqlEventStore(sql);
    await store.init();
  });

  afterEach(async () => {
    await Promise.all(publishers.splice(0).map((publisher) => publisher.stop()));
    await store.close();
    await sql.close();
  });

  /** Publishes `total` batches and answers how many messages each transaction carried. */
  async function carried(options: {
    total: number;
    full: boolean;
    tailTransactionMs: number;
  }): Promise<number[]> {
    const topic = `publisher-spec-${randomUUID()}`;
    await ensureTopics(kafka, [topic], { numPartitions: 1 });
    const source = new CountingSource(topic, options.total, options.full);
    const transactions: number[] = [];
    const publisher = new LeasedPublisher(
      {
        sql,
        kafka,
        leaseName: `publisher-spec:${topic}`,
        transactionalId: `publisher-spec-${topic}`,
        batchesPerTransaction: 5,
        tailTransactionMs: options.tailTransactionMs,
        logger: pino({ enabled: false }),
        beforeCommit: async (batch) => {
          transactions.push(batch.topicMessages[0].messages.length);
        },
      },
      source,
    );
    publishers.push(publisher);
    await publisher.start();
    const deadline = Date.now() + 30_000;
    while (source.committedCount < options.total) {
      if (Date.now() > deadline) throw new Error(`committed ${source.committedCount}`);
      await sleep(25);
    }
    return transactions;
  }

  it('commits at once at the source’s tail once a transaction is older than tailTransactionMs', async () => {
    expect(await carried({ total: 6, full: false, tailTransactionMs: 0 })).toEqual([
      1, 1, 1, 1, 1, 1,
    ]);
  });

  it('goes on taking batches at the tail while the transaction is younger than that', async () => {
    expect(await carried({ total: 6, full: false, tailTransactionMs: 60_000 })).toEqual([5, 1]);
  });

  it('fills a transaction with a backlog’s full batches, however old it is', async () => {
    expect(await carried({ total: 6, full: true, tailTransactionMs: 0 })).toEqual([5, 1]);
  });
});
