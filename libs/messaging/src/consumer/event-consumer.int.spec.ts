import { StoredEvent } from '@truceline/domain';
import { openDatabase, SqlClient } from '@truceline/event-store';
import { createTestDatabase, TestDatabase } from '@truceline/testing';
import { Admin, Kafka, logLevel, Producer } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { connect, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { toKafkaMessage } from '../cloud-event';
import { createKafka, KAFKA_RETRY, parseBrokers } from '../kafka-client';
import { ConsumerLedger } from './consumer-ledger';
import {
  EventConsumer,
  EventConsumerOptions,
  MessageHandler,
  STOP_LAG_WAIT_MS,
} from './event-consumer';

/**
 * Against the real broker of the test run and a real PostgreSQL: every test has its own topic
 * and consumer group, so nothing leaks from one test to the next.
 */
/** Joining a group and a rebalance take seconds on a real broker. */
const TEST_TIMEOUT_MS = 90_000;

describe(EventConsumer.name, () => {
  jest.setTimeout(TEST_TIMEOUT_MS);
  let database: TestDatabase;
  let sql: SqlClient;
  let kafka: Kafka;
  let producer: Producer;
  const running: EventConsumer[] = [];

  beforeAll(async () => {
    const brokers = process.env.KAFKA_BROKERS;
    if (!brokers) throw new Error('KAFKA_BROKERS is not set: run through jest (global setup)');
    kafka = createKafka({ brokers: parseBrokers(brokers), clientId: 'consumer-int-spec' });
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    database = await createTestDatabase();
    sql = await openDatabase({ databaseUrl: database.url });
    await Promise.all([
      producer.connect(),
      sql.exec('CREATE TABLE effects (group_id text, event_id text, at timestamptz DEFAULT now())'),
    ]);
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((c) => c.stop()));
  });
  afterAll(async () => {
    await producer?.disconnect();
    await sql?.close();
    await database?.drop();
  });

  /** A fresh topic with `partitions` partitions, and a group that has never consumed it. */
  async function freshTopic(partitions = 1): Promise<{ topic: string; groupId: string }> {
    const suffix = randomUUID().slice(0, 8);
    const topic = `consumer-spec-${suffix}`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [{ topic, numPartitions: partitions }],
      waitForLeaders: true,
    });
    await admin.disconnect();
    return { topic, groupId: `truceline.spec-${suffix}` };
  }

  const eventFor = (incidentId = randomUUID(), position = 1): StoredEvent => ({
    id: randomUUID(),
    type: 'BreachReported',
    schemaVersion: 1,
    streamId: `incident-${incidentId}`,
    revision: 0,
    position,
    occurredAt: '2026-03-01T08:00:00.000Z',
    recordedAt: '2026-03-01T08:00:01.000Z',
    data: { summary: `event at ${position}` },
    metadata: {
      correlationId: randomUUID(),
      causationId: null,
      actor: { id: 'spec', role: 'operator' },
      policyVersion: 1,
    },
  });

  const publish = (topic: string, events: StoredEvent[]) =>
    producer.send({
      topic,
      messages: events.map((e) => toKafkaMessage(e, { source: '/spec' })),
    });

  /** The handler's durable effect: one row per call, so a second effect would show. */
  const recordEffect =
    (groupId: string): MessageHandler =>
    async (event) => {
      await sql.query('INSERT INTO effects (group_id, event_id) VALUES ($1, $2)', [
        groupId,
        event.id,
      ]);
    };

  const effectsOf = async (groupId: string): Promise<string[]> =>
    (
      await sql.query<{ event_id: string }>(
        'SELECT event_id FROM effects WHERE group_id = $1 ORDER BY at',
        [groupId],
      )
    ).rows.map((r) => r.event_id);

  async function start(
    options: Pick<EventConsumerOptions, 'topic' | 'groupId' | 'handler'> &
      Partial<EventConsumerOptions>,
  ): Promise<EventConsumer> {
    const sut = await EventConsumer.start({
      kafka,
      sql,
      retry: { attempts: 3, initialDelayMs: 20, maxDelayMs: 100 },
      maxWaitTimeInMs: 500,
      ...options,
    });
    running.push(sut);
    return sut;
  }

  async function waitFor(what: string, check: () => Promise<boolean> | boolean, ms = 30_000) {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(100);
    }
  }

  async function committedOffsets(groupId: string, topic: string): Promise<string[]> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const [result] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return result.partitions.sort((a, b) => a.partition - b.partition).map((p) => p.offset);
    } finally {
      await admin.disconnect();
    }
  }

  const metric = async (registry: Registry, name: string, labels: Record<string, string>) => {
    const values = (await registry.getSingleMetric(name)?.get())?.values ?? [];
    const match = values.filter((v) =>
      Object.entries(labels).every(([k, value]) => String(v.labels[k]) === value),
    );
    return match.reduce((sum, v) => sum + v.value, 0);
  };

  it('retries a failing handler and commits only after it succeeded, skipping nothing', async () => {
    const { topic, groupId } = await freshTopic();
    const registry = new Registry();
    const events = [eventFor(), eventFor(), eventFor()];
    let failures = 0;
    let committedAtFailure: string[] = [];
    const effect = recordEffect(groupId);
    await publish(topic, events);

    await start({
      topic,
      groupId,
      registry,
      handler: async (event, message) => {
        if (event.id === events[1].id && failures++ === 0) {
          committedAtFailure = await committedOffsets(groupId, topic);
          throw new Error('downstream unavailable');
        }
        await effect(event, message);
      },
    });
    await waitFor('every effect', async () => (await effectsOf(groupId)).length === 3);

    expect(await effectsOf(groupId)).toEqual(events.map((e) => e.id));
    // While the second message failed, the group stood right before it.
    expect(committedAtFailure).toEqual(['1']);
    await waitFor(
      'the last commit',
      async () => (await committedOffsets(groupId, topic))[0] === '3',
    );
    expect(await metric(registry, 'truceline_consumer_retried_total', { group: groupId })).toBe(1);
    expect(await metric(registry, 'truceline_consumer_processed_total', { group: groupId })).toBe(
      3,
    );
    expect(await metric(registry, 'truceline_consumer_lag', { group: groupId })).toBe(0);
  });

  it('after a restart redelivers what was not committed, and only that', async () => {
    const { topic, groupId } = await freshTopic();
    const events = [eventFor(), eventFor(), eventFor(), eventFor()];
    await publish(topic, events);
    const effect = recordEffect(groupId);
    const stuck = events[2];
    const stuckRegistry = new Registry();
    const first = await start({
      topic,
      groupId,
      registry: stuckRegistry,
      lagIntervalMs: 200,
      // The third event keeps failing: the consumer is in its backoff when it is stopped.
      retry: { attempts: 1_000, initialDelayMs: 50, maxDelayMs: 50 },
      handler: async (event, message) => {
        if (event.id === stuck.id) throw new Error('still failing');
        await effect(event, message);
      },
    });
    await waitFor('the first two effects', async () => (await effectsOf(groupId)).length === 2);
    await waitFor('their commit', async () => (await committedOffsets(groupId, topic))[0] === '2');
    // Measured from the broker: the stuck partition shows what it has not got through.
    await waitFor(
      'the lag of the stuck partition',
      async () => (await metric(stuckRegistry, 'truceline_consumer_lag', { group: groupId })) === 2,
    );
    await first.stop();
    expect(await committedOffsets(groupId, topic)).toEqual(['2']);

    const registry = new Registry();
    const delivered: string[] = [];
    await start({
      topic,
      groupId,
      registry,
      handler: async (event, message) => {
        delivered.push(event.id);
        await effect(event, message);
      },
    });
    await waitFor('the rest', async () => (await effectsOf(groupId)).length === 4);

    // Committed messages are not even delivered again; the uncommitted ones are, once each.
    expect(delivered).toEqual([events[2].id, events[3].id]);
    expect(await effectsOf(groupId)).toEqual(events.map((e) => e.id));
    expect(await metric(registry, 'truceline_consumer_duplicates_total', { group: groupId })).toBe(
      0,
    );
  });

  it('handles an event published twice once: the second copy is skipped by its id', async () => {
    const { topic, groupId } = await freshTopic();
    const registry = new Registry();
    const [a, b] = [eventFor(), eventFor()];
    await publish(topic, [a, b, a]);
    const marker = eventFor();

    await start({ topic, groupId, registry, handler: recordEffect(groupId) });
    await publish(topic, [marker]);
    await waitFor('the marker', async () => (await effectsOf(groupId)).includes(marker.id));

    expect(await effectsOf(groupId)).toEqual([a.id, b.id, marker.id]);
    expect(await metric(registry, 'truceline_consumer_duplicates_total', { group: groupId })).toBe(
      1,
    );
    await waitFor('the commit', async () => (await committedOffsets(groupId, topic))[0] === '4');
  });

  it('parks a poison message and one that keeps failing, counts them, and moves on', async () => {
    const { topic, groupId } = await freshTopic();
    const registry = new Registry();
    const [before, failing, after] = [eventFor(), eventFor(), eventFor()];
    const valid = toKafkaMessage(before, { source: '/spec' });
    const { ce_id: _dropped, ...withoutId } = valid.headers;
    await producer.send({
      topic,
      messages: [
        toKafkaMessage(before, { source: '/spec' }),
        { key: valid.key, value: valid.value, headers: withoutId },
        toKafkaMessage(failing, { source: '/spec' }),
        toKafkaMessage(after, { source: '/spec' }),
      ],
    });
    const calls: string[] = [];
    const effect = recordEffect(groupId);

    await start({
      topic,
      groupId,
      registry,
      handler: async (event, message) => {
        calls.push(event.id);
        if (event.id === failing.id) throw new Error('always fails');
        await effect(event, message);
      },
    });
    await waitFor('the message after them', async () =>
      (await effectsOf(groupId)).includes(after.id),
    );

    expect(await effectsOf(groupId)).toEqual([before.id, after.id]);
    // The poison message never reached the handler; the failing one had its three attempts.
    expect(calls).toEqual([before.id, failing.id, failing.id, failing.id, after.id]);
    const parked = await new ConsumerLedger(sql, groupId).parked();
    expect(parked).toEqual([
      expect.objectContaining({
        topic,
        partition: 0,
        offset: '1',
        eventId: null,
        error: expect.stringMatching(/MalformedMessageError: .*ce_id/),
        payload: expect.objectContaining({ key: valid.key, value: valid.value }),
      }),
      expect.objectContaining({
        offset: '2',
        eventId: failing.id,
        error: 'Error: always fails',
      }),
    ]);
    expect(await metric(registry, 'truceline_consumer_parked_total', { group: groupId })).toBe(2);
    expect(await metric(registry, 'truceline_consumer_parked_messages', { group: groupId })).toBe(
      2,
    );
    expect(await metric(registry, 'truceline_consumer_retried_total', { group: groupId })).toBe(2);
    await waitFor('the commit', async () => (await committedOffsets(groupId, topic))[0] === '4');
  });

  it('splits the partitions between two members of a group; each event is handled once', async () => {
    const partitions = 4;
    const { topic, groupId } = await freshTopic(partitions);
    const registry = new Registry();
    const handledBy = new Map<string, string[]>([
      ['a', []],
      ['b', []],
    ]);
    const effect = recordEffect(groupId);
    const member = (name: string): MessageHandler => {
      return async (event, message) => {
        handledBy.get(name)?.push(event.id);
        await effect(event, message);
      };
    };
    const a = await start({ topic, groupId, registry, handler: member('a') });
    const b = await start({ topic, groupId, registry, handler: member('b') });
    await waitFor('a balanced group', () => {
      const owned = [...a.partitions, ...b.partitions].sort();
      return (
        a.partitions.length > 0 &&
        b.partitions.length > 0 &&
        owned.join() === [...Array(partitions).keys()].join()
      );
    });

    // One incident per event: the keys spread the events over every partition.
    const events = Array.from({ length: 40 }, (_, i) => eventFor(randomUUID(), i + 1));
    await publish(topic, events);
    await waitFor('every effect', async () => (await effectsOf(groupId)).length >= 40);
    await sleep(500); // room for a duplicate to show up, if there were one

    const effects = await effectsOf(groupId);
    expect([...effects].sort()).toEqual(events.map((e) => e.id).sort());
    const [byA, byB] = [handledBy.get('a') ?? [], handledBy.get('b') ?? []];
    expect(byA.length).toBeGreaterThan(0);
    expect(byB.length).toBeGreaterThan(0);
    expect([...byA, ...byB].sort()).toEqual(events.map((e) => e.id).sort());
    const committed = await committedOffsets(groupId, topic);
    expect(committed.reduce((sum, offset) => sum + Number(offset), 0)).toBe(40);
    expect(await metric(registry, 'truceline_consumer_processed_total', { group: groupId })).toBe(
      40,
    );
  });

  describe('stopping while the lag is being measured', () => {
    /**
     * A client like the suite's that keeps every socket it opens to the broker, and whose admin
     * clients, once `stall` is set, hold `fetchTopicOffsets` (the first request of a lag
     * measurement) until `release` resolves: a measurement is in flight for as long as a test
     * wants, as on a broker that does not answer. `disconnected` resolves when an admin client
     * has been disconnected while stalling.
     */
    function stallingKafka() {
      const sockets: Socket[] = [];
      const tracked = new Kafka({
        brokers: parseBrokers(process.env.KAFKA_BROKERS!),
        clientId: 'consumer-int-spec-stall',
        connectionTimeout: 3_000,
        requestTimeout: 30_000,
        retry: KAFKA_RETRY,
        logLevel: logLevel.NOTHING,
        socketFactory: ({ host, port, onConnect }) => {
          const socket = connect({ host, port }, onConnect);
          sockets.push(socket);
          return socket;
        },
      });
      let disconnected = () => {};
      const held = {
        stall: false,
        entered: 0,
        release: Promise.resolve(),
        disconnected: new Promise<void>((resolve) => (disconnected = resolve)),
      };
      const admin = tracked.admin.bind(tracked);
      jest.spyOn(tracked, 'admin').mockImplementation((config) => {
        const client: Admin = admin(config);
        const { fetchTopicOffsets, disconnect } = client;
        client.fetchTopicOffsets = async (topic) => {
          if (held.stall) {
            held.entered += 1;
            await held.release;
          }
          return fetchTopicOffsets(topic);
        };
        client.disconnect = async () => {
          await disconnect();
          if (held.stall) disconnected();
        };
        return client;
      });
      const open = () => sockets.filter((socket) => !socket.destroyed).length;
      return { tracked, held, open };
    }

    /**
     * Stops a consumer measuring the lag every 5 ms while a measurement is held until
     * `releaseOf(disconnected)` resolves. `stopped` is how long stop() took, or null if it had not
     * returned after STOP_LAG_WAIT_MS + 5 s (leaving the group takes a moment of its own).
     */
    async function stopWhileMeasuring(releaseOf: (disconnected: Promise<void>) => Promise<void>) {
      const { tracked, held, open } = stallingKafka();
      const { topic, groupId } = await freshTopic();
      const sut = await start({
        kafka: tracked,
        topic,
        groupId,
        lagIntervalMs: 5,
        handler: recordEffect(groupId),
      });
      await waitFor('the assignment', () => sut.partitions.length > 0);
      held.release = releaseOf(held.disconnected);
      held.stall = true;
      await waitFor('a measurement in flight', () => held.entered > 0, 5_000);
      const began = Date.now();
      const late = sleep(STOP_LAG_WAIT_MS + 5_000, null, { ref: false });
      const stopped = Promise.race([sut.stop().then(() => Date.now() - began), late]);
      return { stopped, open };
    }

    it('closes what a measurement going on after the admin is disconnected opens', async () => {
      // The measurement goes on once the admin client is disconnected (the race stop() must not
      // lose): it asks the broker again, which connects that client again.
      const { stopped, open } = await stopWhileMeasuring((disconnected) => disconnected);
      expect(await stopped).not.toBeNull();
      await waitFor('every socket to the broker closed', () => open() === 0, 3_000);
      // And they stay closed: nothing left running opens another.
      await sleep(500);
      expect(open()).toBe(0);
    });

    it('does not wait out a stalled measurement, and closes what it opens once it ends', async () => {
      let release = () => {};
      const { stopped, open } = await stopWhileMeasuring(
        () => new Promise<void>((resolve) => (release = resolve)),
      );
      try {
        expect(await stopped).not.toBeNull();
      } finally {
        release();
      }
      await waitFor('every socket to the broker closed', () => open() === 0, 3_000);
      await sleep(500);
      expect(open()).toBe(0);
    });
  });
});
