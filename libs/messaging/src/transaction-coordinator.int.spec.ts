import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, Producer } from 'kafkajs';
import { createKafka, ensureTopics, parseBrokers } from './kafka-client';

/** Against the real broker of the test run; each test has its own topics and transactional id. */
jest.setTimeout(60_000);

describe('the transaction coordinator kept by a producer', () => {
  let kafka: Kafka;
  let producer: Producer;
  /** FindCoordinator and Metadata requests once the producer has its transactional id. */
  let findCoordinator: number;
  let refreshes: number;
  let topics: string[];

  beforeAll(() => {
    const brokers = process.env.KAFKA_BROKERS;
    if (!brokers) throw new Error('KAFKA_BROKERS is not set: run through jest (global setup)');
    kafka = createKafka({ brokers: parseBrokers(brokers), clientId: 'coordinator-spec' });
  });

  beforeEach(async () => {
    const run = randomUUID().slice(0, 8);
    topics = [`coordinator-spec-${run}-a`, `coordinator-spec-${run}-b`];
    await ensureTopics(kafka, topics, { numPartitions: 1 });
    producer = kafka.producer({
      transactionalId: `coordinator-spec-${run}`,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    findCoordinator = 0;
    refreshes = 0;
    producer.on(producer.events.REQUEST, ({ payload }) => {
      if (payload.apiName === 'GroupCoordinator') findCoordinator += 1;
      if (payload.apiName === 'Metadata') refreshes += 1;
    });
    await producer.connect();
    // kafkajs takes the transactional producer id at the first transaction: an empty one.
    await (await producer.transaction()).commit();
    [findCoordinator, refreshes] = [0, 0];
  });

  afterEach(async () => {
    await producer.disconnect();
  });

  /**
   * One transaction, then a pause: a transaction begun while the broker still writes the last
   * one's commit markers is refused for a moment (CONCURRENT_TRANSACTIONS), and kafkajs refreshes
   * its metadata before retrying, which forgets the coordinator too.
   */
  const transaction = async (topic: string) => {
    const sut = await producer.transaction();
    await sut.send({ topic, acks: -1, messages: [{ key: 'k', value: 'v' }] });
    await sut.commit();
    await sleep(200);
  };

  it('is asked for once, not before every AddPartitionsToTxn and EndTxn', async () => {
    await transaction(topics[0]);
    await transaction(topics[0]);
    await transaction(topics[0]);

    // kafkajs alone asks before every AddPartitionsToTxn and EndTxn: six times.
    expect(findCoordinator).toBeLessThanOrEqual(refreshes);
    expect(findCoordinator).toBeLessThan(6);
  });

  it('is asked for again once the client refreshed its metadata', async () => {
    await transaction(topics[0]);
    const before = findCoordinator;

    await transaction(topics[1]); // a topic new to the client: kafkajs refreshes its metadata

    expect(findCoordinator).toBe(before + 1);
  });
});
