import { INestApplication } from '@nestjs/common';
import { loadConfig, TrucelineConfig } from '@truceline/config';
import { incidentIdOf, StoredEvent } from '@truceline/domain';
import { openDatabase, SqlClient } from '@truceline/event-store';
import {
  ConsumerLedger,
  createKafka,
  EventConsumer,
  EventRelay,
  parseBrokers,
  parseTraceparent,
  traceparentOf,
} from '@truceline/messaging';
import { createTestDatabase, TestDatabase } from '@truceline/testing';
import { readScenarioFile, runScenario } from '@truceline/scenarios';
import { createRuntime, EmbeddedRuntime, RunningService, SERVICES } from '@truceline/workflows';
import { randomUUID } from 'node:crypto';
import { AddressInfo } from 'node:net';
import { basename } from 'node:path';
import { createApp } from '../apps/api/src/app';
import { streamViolations } from './support/event-invariants';
import { sharedScenarioFiles } from './support/shared-scenarios';

/**
 * The distributed topology in one process: the API in exercise mode without in-process services,
 * the real EventRelay publishing the log to Kafka, and verification, notification and coalition
 * tasking each as an EventConsumer in its own group, and the deadline scheduler beside them:
 * every service of SERVICES started as its process starts it. PostgreSQL and the broker are real. The shared scenarios must pass through the HTTP API as they do embedded, and every
 * reaction must be in the log exactly once.
 */
jest.setTimeout(180_000);

const JWT_SECRET = 'services-kafka-e2e-secret-of-32-characters';

describe('the services as Kafka consumers (distributed topology, in one process)', () => {
  const run = randomUUID().slice(0, 8);
  const topic = `truceline.events.e2e-${run}`;
  let database: TestDatabase;
  let config: TrucelineConfig;
  let runtime: EmbeddedRuntime;
  let app: INestApplication;
  let baseUrl: string;
  let relaySql: SqlClient;
  let relay: EventRelay;
  const services: RunningService[] = [];
  /** The services that consume the log, each in its consumer group. */
  const consuming = () =>
    services.filter((s): s is RunningService & { consumer: EventConsumer } => s.consumer !== null);

  beforeAll(async () => {
    const brokers = process.env.KAFKA_BROKERS;
    if (!brokers) throw new Error('KAFKA_BROKERS is not set: run through jest (global setup)');
    database = await createTestDatabase();
    config = loadConfig({
      DATABASE_URL: database.url,
      KAFKA_BROKERS: brokers,
      TRUCELINE_CLOCK: 'exercise',
      TRUCELINE_CLOCK_START: '2026-03-01T00:00:00Z',
      TRUCELINE_JWT_SECRET: JWT_SECRET,
      LOG_LEVEL: 'warn',
    });

    // The API first: its store, migrations, policy adoption and the incident projection.
    runtime = await createRuntime(config, {
      services: false,
      logger: { log: () => undefined, error: (message, error) => console.error(message, error) },
    });
    app = await createApp(runtime, config);
    await app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;

    relaySql = await openDatabase({ databaseUrl: database.url });
    relay = new EventRelay({
      sql: relaySql,
      kafka: createKafka({ brokers: parseBrokers(brokers), clientId: `e2e-relay-${run}` }),
      topic,
      numPartitions: 6,
    });
    await relay.start();

    for (const definition of SERVICES) {
      services.push(
        await RunningService.start(definition, config, {
          metricsPort: 0,
          consumer: {
            topic,
            groupId: `truceline.${definition.name}.e2e-${run}`,
            maxWaitTimeInMs: 500,
          },
        }),
      );
    }
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await relay?.stop();
    await relaySql?.close();
    await app?.close();
    await runtime?.close();
    await database?.drop();
  });

  it.each(sharedScenarioFiles().map((file) => [basename(file, '.json'), file]))(
    '%s passes every step',
    async (_name, file) => {
      const lines: string[] = [];
      const result = await runScenario(readScenarioFile(file), {
        baseUrl,
        jwtSecret: JWT_SECRET,
        log: (line) => lines.push(line),
      });

      expect(result.passed ? 'passed' : lines.join('\n')).toBe('passed');
    },
  );

  describe('afterwards', () => {
    let events: StoredEvent[];

    const processedPerGroup = async () =>
      (
        await relaySql.query<{ n: string }>(
          `SELECT count(*)::text AS n FROM consumer_processed
            WHERE group_id LIKE $1 GROUP BY group_id ORDER BY group_id`,
          [`%.e2e-${run}`],
        )
      ).rows.map((r) => Number(r.n));

    beforeAll(async () => {
      // Quiet: everything stored is relayed, and every group handled all of it.
      await eventually(async () => {
        events = await readAll(runtime);
        const counts = await processedPerGroup();
        return (
          (await relay.lag()) === 0 &&
          counts.length === consuming().length &&
          counts.every((n) => n === events.length) &&
          (await readAll(runtime)).length === events.length
        );
      });
    });

    it('has every reaction exactly once in each incident stream', () => {
      const streams = groupBy(
        events.filter((e) => incidentIdOf(e.streamId)),
        (e) => e.streamId,
      );
      expect(streams.size).toBeGreaterThan(0);

      const violations = [...streams.values()].flatMap((stream) =>
        streamViolations(stream).map((v) => `${stream[0].streamId}: ${v}`),
      );
      expect(violations).toEqual([]);
      for (const stream of streams.values()) {
        const count = (type: string) => stream.filter((e) => e.type === type).length;
        expect(count('VerificationRequested')).toBe(1);
        expect(count('BreachConfirmed') + count('BreachRejected')).toBeLessThanOrEqual(1);
      }
      // Each service did react through Kafka.
      const actors = new Set(events.map((e) => e.metadata.actor.id));
      expect([...actors]).toEqual(
        expect.arrayContaining([
          'verification-service',
          'coalition-tasking-service',
          'notification-service',
        ]),
      );
    });

    it('carries the cause’s trace into every reaction of a service', () => {
      const byId = new Map(events.map((e) => [e.id, e]));
      const reactions = events.filter(
        (e) =>
          e.metadata.actor.role === 'service' &&
          e.metadata.actor.id !== 'deadline-scheduler' &&
          e.metadata.causationId !== null &&
          byId.has(e.metadata.causationId),
      );
      expect(reactions.length).toBeGreaterThan(0);

      for (const reaction of reactions) {
        const cause = byId.get(reaction.metadata.causationId as string) as StoredEvent;
        expect(parseTraceparent(reaction.metadata.traceparent)?.traceId).toBe(
          parseTraceparent(traceparentOf(cause))?.traceId,
        );
        expect(reaction.metadata.correlationId).toBe(cause.metadata.correlationId);
      }
    });

    it('parked nothing, and every group handled each event at most once', async () => {
      for (const service of consuming()) {
        const ledger = new ConsumerLedger(service.context.sql, service.consumer.groupId);
        expect(await ledger.parked()).toEqual([]);
      }
      // Every event of the log reached every group, recorded once per event id.
      expect(await processedPerGroup()).toEqual(consuming().map(() => events.length));
    });

    it('serves each service’s metrics over HTTP', async () => {
      for (const service of consuming()) {
        const response = await fetch(`http://127.0.0.1:${service.metricsPort}/metrics`);
        const text = await response.text();

        expect(response.status).toBe(200);
        expect(text).toContain(
          `truceline_consumer_processed_total{group="${service.consumer.groupId}",topic="${topic}"}`,
        );
        expect(text).toMatch(/truceline_consumer_lag\{[^}]*\} 0/);
        const live = await fetch(`http://127.0.0.1:${service.metricsPort}/health/live`);
        expect(live.status).toBe(200);
      }
    });
  });
});

async function readAll(runtime: EmbeddedRuntime): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  for (let after = 0; ;) {
    const page = await runtime.store.readAll({ after, limit: 1000 });
    if (page.length === 0) return events;
    events.push(...page);
    after = page[page.length - 1].position;
  }
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
