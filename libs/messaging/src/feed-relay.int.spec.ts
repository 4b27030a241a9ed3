import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { incidentStreamId } from '@truceline/domain';
import {
  createTestDatabase,
  openPolicyStore,
  TEST_CONSUMER,
  trafficReport,
} from '@truceline/testing';
import { SqlClient, SqlEventStore } from '@truceline/event-store';
import {
  FEEDS,
  FeedProjection,
  FeedQueries,
  migratePartnerFeed,
  PolicyRegistry,
  rebuildProjection,
} from '@truceline/projections';
import { Kafka } from 'kafkajs';
import { FeedRelay, FeedRelayOptions, toFeedMessage } from './feed-relay';
import { createKafka, parseBrokers } from './kafka-client';

/** Against the real broker of the test run and PGlite in memory; each test has its own topics. */
jest.setTimeout(120_000);

describe(FeedRelay.name, () => {
  let kafka: Kafka;
  let sql: SqlClient;
  let store: SqlEventStore;
  let projection: FeedProjection;
  let feeds: FeedQueries;
  let run: string;
  const relays: FeedRelay[] = [];

  const topicOf = (partner: string) => `feed-relay-spec-${run}.${partner.toLowerCase()}`;
  const aRelay = (options: Partial<FeedRelayOptions> = {}) => {
    const relay = new FeedRelay({
      sql,
      kafka,
      topicOf,
      transactionalId: `feed-relay-spec-${run}`,
      numPartitions: 2,
      pollIntervalMs: 50,
      leaseRenewMs: 200,
      leaseTtlMs: 2_000,
      ...options,
    });
    relays.push(relay);
    return relay;
  };
  const reportIncidents = async (count: number) => {
    for (let i = 0; i < count; i++) {
      await store.append(incidentStreamId(randomUUID()), [trafficReport()], {
        expectedRevision: 'no-stream',
      });
    }
    for (const event of await store.readAll()) await projection.apply(event);
  };
  const waitForLag0 = async (relay: FeedRelay) => {
    const deadline = Date.now() + 30_000;
    while ((await relay.lag()) > 0) {
      if (Date.now() > deadline) throw new Error(`lag ${await relay.lag()}`);
      await sleep(50);
    }
  };

  beforeAll(() => {
    const brokers = process.env.KAFKA_BROKERS;
    if (!brokers) throw new Error('KAFKA_BROKERS is not set: run through jest (global setup)');
    kafka = createKafka({ brokers: parseBrokers(brokers), clientId: 'feed-relay-spec' });
  });

  beforeEach(async () => {
    run = randomUUID().slice(0, 8);
    const opened = await openPolicyStore({ inMemory: true }, migratePartnerFeed);
    ({ sql, store } = opened);
    projection = new FeedProjection(sql, opened.policies);
    feeds = new FeedQueries(sql);
  });

  afterEach(async () => {
    await Promise.all(relays.splice(0).map((r) => r.stop()));
    await sql.close();
  });

  const tierNotice = {
    seq: 7,
    id: 'id-1',
    type: 'IncidentTierChanged',
    incidentId: 'inc-1',
    occurredAt: '2026-03-02T04:00:00.000Z',
    recordedAt: '2026-03-02T05:00:00.000Z',
    position: 42,
    exercise: false,
    data: { tier: 1 },
  };

  it('maps an entry to a CloudEvents binary-mode message with its seq', () => {
    const sut = toFeedMessage('PL', tierNotice);

    expect(sut).toEqual({
      key: 'inc-1',
      value: '{"tier":1}',
      headers: expect.objectContaining({
        ce_specversion: '1.0',
        ce_id: 'id-1',
        ce_type: 'truceline.IncidentTierChanged.v1',
        ce_source: '/truceline/feeds/pl',
        ce_subject: 'inc-1',
        ce_time: '2026-03-02T04:00:00.000Z',
        ce_seq: '7',
        ce_position: '42',
      }),
    });
  });

  it('marks drill data with the ce_exercise header, and only drill data', () => {
    expect(toFeedMessage('PL', { ...tierNotice, exercise: true }).headers).toMatchObject({
      ce_exercise: 'true',
    });
    expect(toFeedMessage('PL', tierNotice).headers).not.toHaveProperty('ce_exercise');
  });

  it('resumes from each partner checkpoint: a second relay publishes only what is new', async () => {
    await reportIncidents(3);
    const first = aRelay();
    await first.start();
    await waitForLag0(first);
    await first.stop();
    const checkpoint = await store.readCheckpoint(`relay:${topicOf('PL')}`);

    await reportIncidents(2);
    const sut = aRelay();
    await sut.start();
    await waitForLag0(sut);

    expect(checkpoint).toBe(6); // a report and its tier-0 notice per incident
    expect(await store.readCheckpoint(`relay:${topicOf('PL')}`)).toBe(await feeds.head('PL'));
    const received = await consume(kafka, topicOf('PL'), 10);
    const all = await feeds.page('PL', 0, 500);
    expect(received.sort()).toEqual(all.map((e) => e.id).sort());
  });

  it('publishes nothing again after the feeds were rebuilt by a replay', async () => {
    await reportIncidents(3);
    const sut = aRelay();
    await sut.start();
    await waitForLag0(sut);
    const admin = kafka.admin();
    await admin.connect();
    const offsets = async () =>
      Promise.all(
        ['PL', 'US', 'GB'].map(async (partner) => [
          partner,
          await admin.fetchTopicOffsets(topicOf(partner)),
        ]),
      );
    try {
      const before = await offsets();

      await rebuildProjection(sql, new PolicyRegistry(store), FEEDS);
      await sleep(500); // ten polls of the relay
      await waitForLag0(sut);

      expect(await offsets()).toEqual(before);
    } finally {
      await admin.disconnect();
    }
  });

  it('leaves the publishing to one leader at a time', async () => {
    await reportIncidents(1);
    const a = aRelay();
    const b = aRelay();
    await a.start();
    await b.start();
    await waitForLag0(a);

    expect([a.isLeader(), b.isLeader()].filter(Boolean)).toHaveLength(1);
  });

  it('on PostgreSQL publishes what the projector notified, and by its poll what came without a NOTIFY', async () => {
    const database = await createTestDatabase();
    const pg = await openPolicyStore(
      { databaseUrl: database.url, poolSize: 4 },
      migratePartnerFeed,
    );
    // The same database, but no LISTEN/NOTIFY: entries committed through it wake no relay.
    const base = pg.sql;
    const silent: SqlClient = {
      engine: base.engine,
      query: (text, params, options) => base.query(text, params, options),
      exec: (script) => base.exec(script),
      transaction: (fn) => base.transaction(fn),
      close: () => Promise.resolve(),
    };
    const report = async (through: SqlClient) => {
      await pg.store.append(incidentStreamId(randomUUID()), [trafficReport()], {
        expectedRevision: 'no-stream',
      });
      const projection = new FeedProjection(through, pg.policies);
      for (const event of await pg.store.readAll()) await projection.apply(event);
    };
    const sut = aRelay({ sql: base, pollIntervalMs: 1_000 });
    try {
      await report(base);
      await sut.start();
      await waitForLag0(sut);
      await report(base);
      await waitForLag0(sut);
      await sleep(100); // the relay at its tail, idle, its last read no longer under way

      await report(silent);
      await waitForLag0(sut);

      const pgFeeds = new FeedQueries(base);
      const all = await pgFeeds.page('PL', 0, 500);
      expect(all).toHaveLength(6); // a report and its tier-0 notice per incident
      const received = await consume(kafka, topicOf('PL'), all.length);
      expect(received.sort()).toEqual(all.map((e) => e.id).sort());
    } finally {
      await sut.stop();
      await pg.close();
      await database.drop();
    }
  });
});

/** Every ce_id on the topic, read from the beginning until `count` arrived and a little longer. */
async function consume(kafka: Kafka, topic: string, count: number): Promise<string[]> {
  const consumer = kafka.consumer({ ...TEST_CONSUMER, groupId: `feed-relay-spec-${randomUUID()}` });
  const ids: string[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        ids.push(message.headers?.ce_id?.toString() ?? '');
      },
    });
    const deadline = Date.now() + 45_000;
    while (ids.length < count && Date.now() < deadline) await sleep(100);
    await sleep(1_000);
  } finally {
    await consumer.disconnect();
  }
  return ids;
}
