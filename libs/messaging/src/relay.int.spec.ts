import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { incidentIdOf, NewEvent, StoredEvent } from '@truceline/domain';
import { openDatabase, SqlClient, SqlEventStore } from '@truceline/event-store';
import { createTestDatabase, TEST_CONSUMER, TestDatabase } from '@truceline/testing';
import { CloudEvent, Kafka as CloudEventsKafka } from 'cloudevents';
import { IHeaders, Kafka, Partitioners } from 'kafkajs';
import { fromKafkaMessage } from './cloud-event';
import { createKafka, parseBrokers } from './kafka-client';
import { EVENTS_TRANSACTION_INTERVAL_MS, EventRelay, EventRelayOptions } from './relay';

/**
 * Against the real broker of the test run and real databases (PGlite in memory, PostgreSQL):
 * each test relays to a topic of its own and reads it back with a consumer group that has never
 * consumed it, in read_committed isolation like every consumer of the system.
 */
jest.setTimeout(120_000);

const LEASE_TTL_MS = 2_000;

interface Received {
  partition: number;
  offset: number;
  key: string;
  value: Buffer | null;
  headers: IHeaders;
}

type Engine = 'PGlite' | 'PostgreSQL';

describe.each<Engine>(['PGlite', 'PostgreSQL'])(`${EventRelay.name} on %s`, (engine) => {
  let kafka: Kafka;
  let database: TestDatabase | undefined;
  let sql: SqlClient;
  let store: SqlEventStore;
  const relays: EventRelay[] = [];
  const clients: SqlClient[] = [];

  beforeAll(() => {
    const brokers = process.env.KAFKA_BROKERS;
    if (!brokers) throw new Error('KAFKA_BROKERS is not set: run through jest (global setup)');
    kafka = createKafka({ brokers: parseBrokers(brokers), clientId: 'relay-int-spec' });
  });

  beforeEach(async () => {
    sql = await openClient();
    store = new SqlEventStore(sql);
    await store.init();
  });

  afterEach(async () => {
    await Promise.all(relays.splice(0).map((relay) => relay.stop({ release: false })));
    await store.close();
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await database?.drop();
    database = undefined;
  });

  /** One more connection to the test's database: a second process, for PostgreSQL. */
  async function openClient(): Promise<SqlClient> {
    let client: SqlClient;
    if (engine === 'PGlite') {
      if (clients.length > 0) return clients[0]; // an embedded database has one client
      client = await openDatabase({ inMemory: true });
    } else {
      database ??= await createTestDatabase();
      client = await openDatabase({ databaseUrl: database.url, poolSize: 4 });
    }
    clients.push(client);
    return client;
  }

  function aRelay(options: Partial<EventRelayOptions> & { topic: string }): EventRelay {
    const relay = new EventRelay({
      sql,
      kafka,
      numPartitions: 3,
      batchSize: 7,
      pollIntervalMs: 50,
      leaseTtlMs: LEASE_TTL_MS,
      leaseRenewMs: 200,
      ...options,
    });
    relays.push(relay);
    return relay;
  }

  const aTopic = () => `relay-spec-${randomUUID()}`;

  /**
   * `count` new incidents whose keys kafkajs's default partitioner (the relay's for a topic of
   * several partitions) puts in at least two of the relay's three partitions: five random ids
   * all hash to the same one once in 81 runs, and a spec of keyed partitioning then proves nothing.
   */
  function incidentsOverPartitions(count: number): string[] {
    const partitionOf = Partitioners.DefaultPartitioner();
    const partitionMetadata = [0, 1, 2].map((partitionId) => ({
      partitionErrorCode: 0,
      partitionId,
      leader: 0,
      replicas: [0],
      isr: [0],
    }));
    for (;;) {
      const incidents = Array.from({ length: count }, () => randomUUID());
      const partitions = new Set(
        incidents.map((key) =>
          partitionOf({ topic: 'any', partitionMetadata, message: { key, value: null } }),
        ),
      );
      if (partitions.size > 1) return incidents;
    }
  }

  /** Interleaves appends over the incidents so their positions alternate in the log. */
  async function appendToIncidents(incidentIds: string[], perIncident: number) {
    const appended: StoredEvent[] = [];
    for (let round = 0; round < perIncident; round++) {
      for (const incidentId of incidentIds) {
        const stream = `incident-${incidentId}`;
        const result = await store.append(stream, [anEvent(round)], {
          expectedRevision: (await store.streamRevision(stream)) ?? 'no-stream',
        });
        appended.push(...result.events);
      }
    }
    return appended;
  }

  async function waitUntilPublished(relay: EventRelay, position: number, timeoutMs = 30_000) {
    await waitUntil(
      () => relay.published().position >= position,
      timeoutMs,
      () => {
        return `relay at ${relay.published().position}, expected ${position}`;
      },
    );
  }

  /**
   * Reads the topic from the beginning with a new group until `count` messages arrived, then
   * a little longer, so a duplicate or a stray message would be seen too.
   */
  async function consume(
    topic: string,
    count: number,
    { readUncommitted = false } = {},
  ): Promise<Received[]> {
    const consumer = kafka.consumer({
      ...TEST_CONSUMER,
      groupId: `relay-spec-${randomUUID()}`,
      readUncommitted,
    });
    const received: Received[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          received.push({
            partition,
            offset: Number(message.offset),
            key: message.key?.toString() ?? '',
            value: message.value,
            headers: message.headers ?? {},
          });
        },
      });
      await waitUntil(
        () => received.length >= count,
        45_000,
        () => {
          return `received ${received.length} of ${count} messages`;
        },
      );
      await sleep(1_000);
    } finally {
      await consumer.disconnect();
    }
    return received.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  }

  /** Every event exactly once, keyed by incident, each incident's events in log order. */
  function expectExactlyOnceInOrder(received: Received[], events: StoredEvent[]) {
    const rebuilt = received.map((message) => fromKafkaMessage(message));
    expect(rebuilt.map((event) => event.id).sort()).toEqual(events.map((event) => event.id).sort());
    expect(rebuilt).toEqual(expect.arrayContaining(events));
    const positionsByKey = new Map<string, number[]>();
    received.forEach((message, i) => {
      expect(message.key).toBe(incidentIdOf(rebuilt[i].streamId));
      positionsByKey.set(message.key, [
        ...(positionsByKey.get(message.key) ?? []),
        rebuilt[i].position,
      ]);
    });
    for (const positions of positionsByKey.values()) {
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
    }
  }

  it('publishes every event once, keyed by incident, in log order, as CloudEvents', async () => {
    const events = await appendToIncidents(incidentsOverPartitions(5), 6);
    const topic = aTopic();
    const sut = aRelay({ topic });

    await sut.start();
    await waitUntilPublished(sut, events[events.length - 1].position);
    const received = await consume(topic, events.length);

    expectExactlyOnceInOrder(received, events);
    expect(new Set(received.map((message) => message.partition)).size).toBeGreaterThan(1);
    expect(await sut.lag()).toBe(0);
    // Five batches of 7 read ahead into one Kafka transaction.
    expect(sut.published()).toMatchObject({ events: 30, batches: 1, takeovers: 1 });
    for (const message of received) {
      const headers = Object.fromEntries(
        Object.entries(message.headers).map(([name, value]) => [name, String(value)]),
      );
      const cloudEvent = CloudEventsKafka.toEvent({
        key: message.key,
        value: message.value,
        headers,
        body: message.value,
      } as Parameters<typeof CloudEventsKafka.toEvent>[0]) as CloudEvent<unknown>;
      const event = events.find((stored) => stored.id === cloudEvent.id)!;
      expect(cloudEvent.validate()).toBe(true);
      expect(cloudEvent).toMatchObject({
        type: `truceline.${event.type}.v1`,
        source: '/truceline/events',
        subject: message.key,
        time: event.occurredAt,
        position: String(event.position),
        revision: String(event.revision),
        data: event.data,
      });
    }
  });

  it('wakes within the poll interval for events appended while it runs', async () => {
    const topic = aTopic();
    const sut = aRelay({ topic, pollIntervalMs: 100 });
    await sut.start();
    // The lease is held as start() returns, but the relay's first transaction still has the
    // Kafka set-up before it: the producer's connection and id (InitProducerId, which on a
    // broker just started creates the transaction log), the new topic's metadata. Seconds on a
    // loaded machine, and none of it a wake: a first event, published before the clock starts,
    // takes it out of the measured time. The relay is then left to go idle (past the spacing
    // of its transactions and a read of the log), so that the event timed below is one it has to
    // be woken for, not one its loop was about to read anyway.
    const [first] = await appendToIncidents([randomUUID()], 1);
    await waitUntilPublished(sut, first.position);
    await sleep(3 * EVENTS_TRANSACTION_INTERVAL_MS);

    const [event] = await appendToIncidents([randomUUID()], 1);
    const appendedAt = Date.now();
    await waitUntilPublished(sut, event.position);

    expect(Date.now() - appendedAt).toBeLessThan(1_000);
  });

  it('resumes from its checkpoint after a restart: nothing lost, nothing repeated', async () => {
    const incidents = [randomUUID(), randomUUID(), randomUUID()];
    const before = await appendToIncidents(incidents, 4);
    const topic = aTopic();
    const first = aRelay({ topic });
    await first.start();
    await waitUntilPublished(first, before[before.length - 1].position);
    await first.stop();

    const after = await appendToIncidents(incidents, 3);
    const sut = aRelay({ topic });
    expect(await sut.lag()).toBe(after.length);
    await sut.start();
    await waitUntilPublished(sut, after[after.length - 1].position);

    expect(sut.published().events).toBe(after.length);
    expectExactlyOnceInOrder(await consume(topic, before.length + after.length), [
      ...before,
      ...after,
    ]);
  });

  it('runs one leader among several instances; a standby takes over when it crashes', async () => {
    const incidents = [randomUUID(), randomUUID(), randomUUID()];
    const first = await appendToIncidents(incidents, 3);
    const topic = aTopic();
    const [a, b] = [aRelay({ topic }), aRelay({ topic, sql: await openClient() })];
    await Promise.all([a.start(), b.start()]);
    await waitUntil(
      () => a.published().position + b.published().position > 0,
      30_000,
      () => {
        return 'nobody published';
      },
    );
    const [leader, standby] = a.published().events > 0 ? [a, b] : [b, a];
    await waitUntilPublished(leader, first[first.length - 1].position);
    await sleep(500); // several renewals: the standby stays a standby

    expect(leader.isLeader()).toBe(true);
    expect(standby.isLeader()).toBe(false);
    expect(standby.published()).toMatchObject({ events: 0, takeovers: 0 });

    await leader.stop({ release: false }); // a crash: the lease is left to run out
    const crashedAt = Date.now();
    const second = await appendToIncidents(incidents, 3);
    await waitUntilPublished(standby, second[second.length - 1].position);

    expect(Date.now() - crashedAt).toBeGreaterThanOrEqual(LEASE_TTL_MS * 0.5);
    expect(standby.published()).toMatchObject({ events: second.length, takeovers: 1 });
    expectExactlyOnceInOrder(await consume(topic, first.length + second.length), [
      ...first,
      ...second,
    ]);
  });

  it('hands over at once when the leader stops cleanly', async () => {
    const topic = aTopic();
    const a = aRelay({ topic, leaseTtlMs: 30_000 });
    await a.start();
    const b = aRelay({ topic, leaseTtlMs: 30_000, sql: await openClient() });
    await b.start();
    expect(a.isLeader()).toBe(true);

    await a.stop();
    const [event] = await appendToIncidents([randomUUID()], 1);

    await waitUntilPublished(b, event.position, 5_000);
  });

  it('stops publishing as soon as another instance holds the lease', async () => {
    const topic = aTopic();
    const sut = aRelay({ topic });
    await sut.start();
    const [published] = await appendToIncidents([randomUUID()], 1);
    await waitUntilPublished(sut, published.position);

    await sql.query(
      `UPDATE relay_leases SET owner = 'intruder', expires_at = clock_timestamp() + interval '1 hour'`,
    );
    await waitUntil(
      () => !sut.isLeader(),
      5_000,
      () => 'still leading',
    );
    await appendToIncidents([randomUUID()], 2);
    await sleep(1_000);

    expect(sut.published().position).toBe(published.position);
    expect(await store.readCheckpoint(sut.checkpointName)).toBe(published.position);
    expect((await consume(topic, 1)).map((message) => fromKafkaMessage(message))).toEqual([
      published,
    ]);
  });

  it('aborts a failed transaction and publishes its batch again, checkpointing only after', async () => {
    const events = await appendToIncidents([randomUUID(), randomUUID()], 3);
    const topic = aTopic();
    let failures = 0;
    const checkpoints: number[] = [];
    const sut = aRelay({
      topic,
      batchSize: 100,
      beforeCommit: async () => {
        checkpoints.push(await store.readCheckpoint(`relay:${topic}`));
        if (failures++ === 0) throw new Error('the broker went away before the commit');
      },
    });

    await sut.start();
    await waitUntilPublished(sut, events[events.length - 1].position);

    expect(failures).toBe(2);
    expect(checkpoints).toEqual([0, 0]);
    expect(sut.published()).toMatchObject({ events: events.length, batches: 1, takeovers: 2 });
    expectExactlyOnceInOrder(await consume(topic, events.length), events);
  });

  it('carries a backlog in transactions of several batches, and sends a failed one again whole', async () => {
    const events = await appendToIncidents([randomUUID(), randomUUID(), randomUUID()], 4);
    const topic = aTopic();
    const carried: number[] = [];
    const checkpoints: number[] = [];
    const sut = aRelay({
      topic,
      batchSize: 3,
      batchesPerTransaction: 3,
      beforeCommit: async (batch) => {
        carried.push(batch.length);
        checkpoints.push(await store.readCheckpoint(`relay:${topic}`));
        if (carried.length === 1) throw new Error('the broker went away before the commit');
      },
    });

    await sut.start();
    await waitUntilPublished(sut, events[events.length - 1].position);

    // Three batches read ahead into the first transaction; after its failure the same three
    // again from the checkpoint, then the rest.
    expect(carried).toEqual([9, 9, 3]);
    expect(checkpoints).toEqual([0, 0, events[8].position]);
    expect(sut.published()).toMatchObject({ events: 12, batches: 2, takeovers: 2 });
    expectExactlyOnceInOrder(await consume(topic, events.length), events);
  });

  it('starts a transaction at most once per interval: what arrives meanwhile goes in the next', async () => {
    const topic = aTopic();
    const interval = 300;
    const committedAt: number[] = [];
    const sut = aRelay({
      topic,
      batchSize: 100,
      transactionIntervalMs: interval,
      beforeCommit: async () => {
        committedAt.push(Date.now());
      },
    });
    await sut.start();
    await waitUntil(
      () => sut.isLeader(),
      5_000,
      () => 'relay never led',
    );

    // An event every 20 ms or so for more than a second, each appended as the relay runs.
    const incident = randomUUID();
    const events: StoredEvent[] = [];
    for (let i = 0; i < 60; i++) {
      events.push(...(await appendToIncidents([incident], 1)));
      await sleep(20);
    }
    await waitUntilPublished(sut, events[events.length - 1].position);

    // Each transaction's commit falls between its start and the next one's, the starts at least
    // an interval apart: n transactions span at least (n − 2) intervals between their commits.
    const span = committedAt[committedAt.length - 1] - committedAt[0];
    expect(committedAt.length).toBeGreaterThan(1);
    expect(committedAt.length).toBeLessThanOrEqual(Math.floor(span / interval) + 2);
    expectExactlyOnceInOrder(await consume(topic, events.length), events);
  });

  if (engine === 'PostgreSQL') {
    it('sends the next transaction while the last one’s checkpoint is being written', async () => {
      const topic = aTopic();
      const incident = randomUUID();
      const first = await appendToIncidents([incident], 1);
      // A long lease: its renewals wait behind the stuck checkpoint too, each holding a connection.
      const relaySql = await openDatabase({ databaseUrl: database!.url, poolSize: 8 });
      clients.push(relaySql);
      const sut = aRelay({ topic, leaseTtlMs: 30_000, sql: relaySql });
      await sut.start();
      await waitUntilPublished(sut, first[0].position);
      // Another session holds the relay's checkpoint row, so its next checkpoint waits.
      let locked!: () => void;
      let release!: () => void;
      const isLocked = new Promise<void>((resolve) => (locked = resolve));
      const released = new Promise<void>((resolve) => (release = resolve));
      const holder = (await openClient()).transaction(async (tx) => {
        await tx.query(`SELECT 1 FROM checkpoints WHERE subscriber_id = $1 FOR UPDATE`, [
          sut.checkpointName,
        ]);
        locked();
        await released;
      });
      await isLocked;
      try {
        const second = await appendToIncidents([incident], 1);
        await waitUntil(
          async () =>
            (
              await sql.query<{ waiting: string }>(
                `SELECT count(*) AS waiting FROM pg_stat_activity
                  WHERE datname = current_database() AND wait_event_type = 'Lock'`,
              )
            ).rows[0].waiting !== '0',
          10_000,
          () => 'the checkpoint never waited',
        );

        const third = await appendToIncidents([incident], 2);

        // Sent in a transaction of their own while the checkpoint before it still waits.
        const onTopic = await consume(topic, 4, { readUncommitted: true });
        expect(onTopic.map((message) => fromKafkaMessage(message).id)).toEqual(
          [...first, ...second, ...third].map((event) => event.id),
        );
        expect(sut.published().position).toBe(first[0].position);
        release();
        await holder;
        await waitUntilPublished(sut, third[1].position);

        expect(await store.readCheckpoint(sut.checkpointName)).toBe(third[1].position);
        expectExactlyOnceInOrder(await consume(topic, 4), [...first, ...second, ...third]);
      } finally {
        release();
        await holder;
      }
    });
  }

  it('splits a batch the broker refuses as too large', async () => {
    const events = await appendToIncidents([randomUUID()], 12);
    const topic = aTopic();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '4096' }] },
      ],
    });
    await admin.disconnect();
    // One batch per transaction, so that the split shows as more transactions.
    const sut = aRelay({ topic, batchSize: 12, batchesPerTransaction: 1 });

    await sut.start();
    await waitUntilPublished(sut, events[events.length - 1].position);

    expect(sut.published().batches).toBeGreaterThan(1);
    expectExactlyOnceInOrder(await consume(topic, events.length), events);
  });

  it('fences a paused leader: its transaction is refused once a new leader has taken over', async () => {
    const incidents = [randomUUID(), randomUUID()];
    const events = await appendToIncidents(incidents, 3);
    const topic = aTopic();
    const standbyId = `standby-${randomUUID()}`;
    const standby = aRelay({ topic, instanceId: standbyId, sql: await openClient() });
    let paused = false;
    const zombie = aRelay({
      topic,
      batchSize: 100,
      // The leader stalls between its sends and its commit (a long GC pause, a frozen VM) while
      // its lease is taken over and the new leader's producer starts.
      beforeCommit: async () => {
        if (paused) return;
        paused = true;
        await sql.query(`UPDATE relay_leases SET owner = $1`, [standbyId]);
        await waitUntil(
          () => standby.published().takeovers > 0,
          15_000,
          () => {
            return 'the standby never took over';
          },
        );
      },
    });
    await zombie.start();
    await standby.start();

    await waitUntilPublished(standby, events[events.length - 1].position);

    expect(paused).toBe(true);
    expect(zombie.published()).toMatchObject({ events: 0, batches: 0 });
    await waitUntil(
      () => !zombie.isLeader(),
      2_000,
      () => 'the zombie still thinks it leads',
    );
    expectExactlyOnceInOrder(await consume(topic, events.length), events);
  });
});

function anEvent(round: number): NewEvent {
  return {
    id: randomUUID(),
    type: round === 0 ? 'BreachReported' : 'HostilitiesPersisted',
    occurredAt: new Date(Date.UTC(2026, 2, 1, 8, round)).toISOString(),
    data: round === 0 ? { summary: 'shelling', severity: 'major' } : { observation: `#${round}` },
    metadata: {
      correlationId: randomUUID(),
      causationId: null,
      actor: { id: 'relay-spec', role: 'operator', partner: 'UA' },
      policyVersion: 1,
    },
  };
}

async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  why: () => string,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${why()}`);
    await sleep(25);
  }
}
