import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { deterministicId } from '@truceline/event-store';
import { createKafka, FeedRelay, parseBrokers } from '@truceline/messaging';
import { FeedEntry, FeedProjection, PolicyRegistry } from '@truceline/projections';
import { readScenarioFile, runScenario } from '@truceline/scenarios';
import { CheckpointView } from '@truceline/ledger';
import { TEST_CONSUMER } from '@truceline/testing';
import { CloudEvent, Kafka as CloudEventsKafka } from 'cloudevents';
import { IHeaders, Kafka } from 'kafkajs';
import { InProcessSystem, startInProcessSystem } from './support/in-process-system';
import { sharedScenarioFile } from './support/shared-scenarios';

/**
 * The partner feeds after the shared seed scenario (SPEC §7): what PL and GB may see, receipts,
 * a rebuild from position 0, and the same ids in the same order on each partner's Kafka topic.
 */
jest.setTimeout(180_000);

const ministry = (partner: string) => ({
  id: `ministry-${partner.toLowerCase()}`,
  role: 'ministry' as const,
  partner,
});

describe('partner feeds after the seed scenario', () => {
  let system: InProcessSystem;
  let incidentId: string;
  let pl: FeedEntry[];
  let gb: FeedEntry[];
  let checkpoint: CheckpointView | null;
  const taskMember = new Map<string, string>();

  beforeAll(async () => {
    system = await startInProcessSystem({ clockStart: '2026-03-01T00:00:00Z' });
    const result = await runScenario(
      readScenarioFile(sharedScenarioFile('seed-three-tier-escalation')),
      {
        baseUrl: system.baseUrl,
        jwtSecret: system.jwtSecret,
      },
    );
    expect(result.passed).toBe(true);
    incidentId = result.incidents[''];
    await system.runtime.settle();
    // A checkpoint of everything so far, published to every feed (SPEC §10); then no other, so
    // the feeds read here stay whole while receipts are appended below.
    checkpoint = await system.runtime.ledger.latest();
    await system.runtime.ledger.sealer.stop();
    pl = await system.runtime.feeds.page('PL', 0, 500);
    gb = await system.runtime.feeds.page('GB', 0, 500);
    const view = await system.runtime.queries.get(incidentId);
    view?.coalitionTasks.forEach((t) => taskMember.set(t.taskId, t.member));
  }, 180_000);
  afterAll(() => system?.close());

  const memberOf = (entry: FeedEntry) => {
    const data = entry.data as { member?: string; taskId?: string };
    return data.member ?? taskMember.get(data.taskId ?? '');
  };
  const isTaskEvent = (entry: FeedEntry) => entry.type.startsWith('CoalitionTask');

  it('gives PL the report without its source id, the confirmation, the warning and every tier change', () => {
    const types = pl.map((e) => e.type);
    const report = pl.find((e) => e.type === 'BreachReported');

    expect(report?.data).toMatchObject({ source: { kind: 'sensor' } });
    expect(JSON.stringify(report?.data)).not.toContain('acoustic-array-17');
    expect(types).toContain('BreachConfirmed');
    expect(types).toContain('WarningIssued');
    expect(pl.filter((e) => e.type === 'IncidentTierChanged').map((e) => e.id)).toEqual(
      [0, 1, 2, 3].map((tier) => deterministicId(incidentId, 'tier-changed', String(tier))),
    );
    expect(pl.map((e) => e.seq)).toEqual(pl.map((_, i) => i + 1));
  });

  it('gives every partner each checkpoint of the log as a LogCheckpoint notice', () => {
    for (const feed of [pl, gb]) {
      const notices = feed.filter((e) => e.type === 'LogCheckpoint');
      expect(notices.length).toBeGreaterThan(0);
      expect(notices[notices.length - 1]).toMatchObject({
        incidentId: null,
        exercise: true,
        data: {
          checkpoint: checkpoint?.checkpoint,
          treeSize: checkpoint?.treeSize,
          rootHash: checkpoint?.rootHash,
        },
      });
    }
  });

  it('keeps verification findings and other members’ tasks from PL', () => {
    expect(pl.map((e) => e.type)).not.toContain('VerificationFindingSubmitted');
    const tasks = pl.filter(isTaskEvent);
    expect(tasks.length).toBeGreaterThan(0);
    expect(tasks.map(memberOf).every((member) => member === 'PL')).toBe(true);
  });

  it('gives GB its own tasks and their answers', () => {
    const tasks = gb.filter(isTaskEvent);

    expect(tasks.filter((e) => e.type === 'CoalitionTaskAssigned').length).toBeGreaterThanOrEqual(
      3,
    );
    expect(tasks.map((e) => e.type)).toContain('CoalitionTaskAcknowledged');
    expect(tasks.map(memberOf).every((member) => member === 'GB')).toBe(true);
  });

  it('records a receipt once per partner and notice, and shows it on the incident', async () => {
    const notice = pl.find((e) => e.type === 'IncidentTierChanged') as FeedEntry;
    const feeds = system.runtime.feeds;

    const first = await feeds.acknowledge('PL', notice.id, ministry('PL'));
    const again = await feeds.acknowledge('PL', notice.id, ministry('PL'));

    expect(again).toEqual(first);
    expect(first.eventId).toBe(deterministicId('PL', notice.id, 'ack'));
    const view = await system.runtime.queries.get(incidentId);
    expect(view?.acknowledgements).toEqual([
      expect.objectContaining({ partner: 'PL', eventId: notice.id }),
    ]);
    const report = pl.find((e) => e.type === 'BreachReported') as FeedEntry;
    await expect(feeds.acknowledge('PL', report.id, ministry('PL'))).rejects.toMatchObject({
      code: 'validation',
    });
    const gbTask = gb.find((e) => e.type === 'CoalitionTaskAssigned') as FeedEntry;
    await expect(feeds.acknowledge('PL', gbTask.id, ministry('PL'))).rejects.toMatchObject({
      code: 'not-found',
    });
  });

  it('rebuilds the same ids and seqs from position 0', async () => {
    await system.runtime.settle();
    const policies = new PolicyRegistry(system.runtime.store);
    await policies.load();
    const sut = new FeedProjection(system.runtime.sql, policies);

    await sut.reset();
    for (const event of await system.runtime.store.readAll()) await sut.apply(event);

    expect(await system.runtime.feeds.page('PL', 0, 500)).toEqual(pl);
    expect(await system.runtime.feeds.page('GB', 0, 500)).toEqual(gb);
  });

  it('publishes the PL and GB feeds to their topics with the same ids in the same order', async () => {
    const brokers = process.env.KAFKA_BROKERS;
    if (!brokers) throw new Error('KAFKA_BROKERS is not set: run through jest (global setup)');
    const kafka = createKafka({ brokers: parseBrokers(brokers), clientId: 'feeds-e2e' });
    const run = randomUUID().slice(0, 8);
    const topicOf = (partner: string) => `feeds-e2e-${run}.${partner.toLowerCase()}`;
    const sut = new FeedRelay({
      sql: system.runtime.sql,
      kafka,
      topicOf,
      transactionalId: `feeds-e2e-${run}`,
      numPartitions: 3,
      pollIntervalMs: 50,
      leaseRenewMs: 200,
    });
    await sut.start();
    try {
      const [onPl, onGb] = await Promise.all([
        consumeIds(kafka, topicOf('PL'), pl.length),
        consumeIds(kafka, topicOf('GB'), gb.length),
      ]);

      expect(onPl.map(({ id, seq }) => ({ id, seq }))).toEqual(
        pl.map((e) => ({ id: e.id, seq: String(e.seq) })),
      );
      expect(onGb.map(({ id, seq }) => ({ id, seq }))).toEqual(
        gb.map((e) => ({ id: e.id, seq: String(e.seq) })),
      );
      // What the partner's consumer reads of a checkpoint notice: a valid CloudEvent, keyed `log`.
      const notices = onPl.filter((m) => m.event.type === 'truceline.LogCheckpoint.v1');
      expect(notices.length).toBe(pl.filter((e) => e.type === 'LogCheckpoint').length);
      for (const { key, event } of notices) {
        const entry = pl.find((e) => e.id === event.id) as FeedEntry;
        expect(event.validate()).toBe(true);
        expect(key).toBe('log');
        expect(event).toMatchObject({
          specversion: '1.0',
          source: '/truceline/feeds/pl',
          subject: 'log',
          time: entry.occurredAt,
          seq: String(entry.seq),
          position: String(entry.position),
          exercise: 'true',
          data: entry.data,
        });
      }
      expect(await sut.lag()).toBe(0);
    } finally {
      await sut.stop();
    }
  });
});

/** Reads a topic from the beginning until `count` messages arrived, and a little longer. */
async function consumeIds(kafka: Kafka, topic: string, count: number) {
  const consumer = kafka.consumer({ ...TEST_CONSUMER, groupId: `feeds-e2e-${randomUUID()}` });
  const received: { id: string; seq: string; key: string; event: CloudEvent<unknown> }[] = [];
  await consumer.connect();
  try {
    // The relay creates the topic once it has entries for it.
    for (let i = 0; ; i++) {
      try {
        await consumer.subscribe({ topic, fromBeginning: true });
        break;
      } catch (error) {
        if (i > 100) throw error;
        await sleep(200);
      }
    }
    await consumer.run({
      eachMessage: async ({ message }) => {
        const headers = Object.fromEntries(
          Object.entries(message.headers as IHeaders).map(([name, value]) => [name, String(value)]),
        );
        received.push({
          id: headers.ce_id ?? '',
          seq: headers.ce_seq ?? '',
          key: String(message.key),
          event: CloudEventsKafka.toEvent({
            key: message.key,
            value: message.value,
            headers,
            body: message.value,
          } as Parameters<typeof CloudEventsKafka.toEvent>[0]) as CloudEvent<unknown>,
        });
      },
    });
    const deadline = Date.now() + 60_000;
    while (received.length < count && Date.now() < deadline) await sleep(100);
    await sleep(1_000);
  } finally {
    await consumer.disconnect();
  }
  return received;
}
