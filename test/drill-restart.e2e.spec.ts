import { loadConfig, TrucelineConfig } from '@truceline/config';
import { openDatabase, SqlClient } from '@truceline/event-store';
import { createKafka, EventRelay, parseBrokers } from '@truceline/messaging';
import { createTestDatabase, TestDatabase } from '@truceline/testing';
import { RunningService, SERVICES } from '@truceline/workflows';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { Writable } from 'node:stream';
import { ApiProcess, ensureBuilt } from './support/api-process';
import { DISTRIBUTED_APPS } from './support/distributed-topology';
import { freePort } from './support/free-port';
import { BuiltAppProcess, ProcessGroup } from './support/process-group';
import { eventually, freshSector, TrucelineApi } from './support/truceline-api';

/**
 * SPEC §2: the exercise clock is stored with the data and a restart never moves it. A drill is
 * started at 2026-03-01, a breach reported (verification due 6 h later) and the clock moved an
 * hour; every process is then stopped and started again with only TRUCELINE_CLOCK=exercise — the
 * clock must read where the drill left it, not the wall clock, and no deadline may fall due.
 * A TRUCELINE_CLOCK_START that disagrees with the stored clock is reported with both values.
 */
const JWT_SECRET = 'drill-restart-e2e-secret-of-32-characters';
const DRILL_START = '2026-03-01T00:00:00.000Z';
const DRILL_NOW = '2026-03-01T01:00:00.000Z';
/** A start given at a restart that disagrees with the drill's clock: reported and ignored. */
const OTHER_START = '2026-05-01T00:00:00.000Z';
/** The deadline scheduler looks every second: a restart's wrong clock would show by then. */
const SCHEDULER_LOOKS_MS = 2_500;

/** What the log of an incident says after a restart: its missed deadlines, its clock. */
async function expectDrillAsLeft(api: TrucelineApi, incidentId: string): Promise<void> {
  expect(await api.clockNow()).toBe(DRILL_NOW);
  await sleep(SCHEDULER_LOOKS_MS);
  expect(await api.clockNow()).toBe(DRILL_NOW);
  expect((await api.events(incidentId)).map((e) => e.type)).not.toContain('DeadlineMissed');
  const view = await api.incident(incidentId);
  expect(view.obligations.find((o) => o.kind === 'verification')).toMatchObject({
    dueAt: '2026-03-01T06:00:00.000Z',
    status: 'open',
  });
}

describe('a drill survives a restart: embedded (the built API on PGlite)', () => {
  let dataDir: string;
  const processes: ApiProcess[] = [];

  beforeAll(() => {
    ensureBuilt();
    dataDir = mkdtempSync(join(tmpdir(), 'truceline-drill-'));
  }, 120_000);
  afterAll(async () => {
    for (const p of processes) await p.crash();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function start(env: Record<string, string>): Promise<ApiProcess> {
    const api = new ApiProcess({
      PORT: String(await freePort()),
      TRUCELINE_CLOCK: 'exercise',
      TRUCELINE_DATA_DIR: dataDir,
      TRUCELINE_JWT_SECRET: JWT_SECRET,
      LOG_LEVEL: 'warn',
      ...env,
    });
    processes.push(api);
    api.start();
    await api.waitUntilServing();
    return api;
  }

  it('restarted without TRUCELINE_CLOCK_START, the API keeps the drill clock', async () => {
    const first = await start({ TRUCELINE_CLOCK_START: DRILL_START });
    let api = new TrucelineApi(first.baseUrl, JWT_SECRET);
    const incidentId = await api.report(freshSector('DRILL'));
    await api.advanceClock(DRILL_NOW);
    await first.crash();

    const restarted = await start({});
    api = new TrucelineApi(restarted.baseUrl, JWT_SECRET);
    await expectDrillAsLeft(api, incidentId);
  }, 90_000);
});

/** Collects a service's pino lines, to read what it reported at start. */
function capturingLogger(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: pino({ level: 'warn' }, sink), lines };
}

/**
 * Distributed mode: the API and the deadline scheduler as built processes on PostgreSQL, the
 * relay and the three services on the test run's Kafka (in this process, on a topic and groups
 * of this run, so other suites' processes never share their partitions). All of them restart.
 */
describe('a drill survives a restart: distributed (every process, PostgreSQL and Kafka)', () => {
  const run = randomUUID().slice(0, 8);
  const topic = `truceline.events.drill-${run}`;
  const group = new ProcessGroup();
  let database: TestDatabase;
  let brokers: string;
  let relaySql: SqlClient | undefined;
  let relay: EventRelay | undefined;
  let services: RunningService[] = [];
  let generation = 0;

  beforeAll(async () => {
    ensureBuilt();
    brokers = process.env.KAFKA_BROKERS ?? '';
    if (!brokers) throw new Error('KAFKA_BROKERS is not set: run through jest (global setup)');
    database = await createTestDatabase();
  }, 120_000);
  afterAll(async () => {
    await stopAll();
    await database?.drop();
  }, 60_000);

  const envOf = (start: string | undefined): Record<string, string> => ({
    DATABASE_URL: database.url,
    KAFKA_BROKERS: brokers,
    TRUCELINE_CLOCK: 'exercise',
    TRUCELINE_JWT_SECRET: JWT_SECRET,
    LOG_LEVEL: 'warn',
    ...(start ? { TRUCELINE_CLOCK_START: start } : {}),
  });

  /** Starts every process of the topology; the services get `serviceStart` as their start. */
  async function startAll(
    start: string | undefined,
    serviceStart: string | undefined,
  ): Promise<{ api: TrucelineApi; scheduler: BuiltAppProcess; serviceLines: string[] }> {
    generation++;
    const port = await freePort();
    const metricsPort = await freePort();
    const apiProcess = group.add({
      name: `api-${generation}`,
      ...DISTRIBUTED_APPS.api,
      env: { ...envOf(start), PORT: String(port) },
      readyUrl: `http://127.0.0.1:${port}/health/ready`,
    });
    const scheduler = group.add({
      name: `scheduler-${generation}`,
      ...DISTRIBUTED_APPS.scheduler,
      env: { ...envOf(start), METRICS_PORT: String(metricsPort) },
      readyUrl: `http://127.0.0.1:${metricsPort}/health/ready`,
    });
    apiProcess.start();
    await apiProcess.waitUntilReady();
    scheduler.start();
    await scheduler.waitUntilReady();

    relaySql = await openDatabase({ databaseUrl: database.url });
    relay = new EventRelay({
      sql: relaySql,
      kafka: createKafka({ brokers: parseBrokers(brokers), clientId: `drill-relay-${run}` }),
      topic,
      numPartitions: 2,
    });
    await relay.start();
    const config: TrucelineConfig = loadConfig(envOf(serviceStart));
    const { logger, lines } = capturingLogger();
    services = [];
    for (const definition of SERVICES)
      services.push(
        await RunningService.start(definition, config, {
          logger: logger.child({ service: definition.name }),
          metricsPort: null,
          consumer: {
            topic,
            groupId: `truceline.${definition.name}.drill-${run}`,
            maxWaitTimeInMs: 500,
          },
        }),
      );
    return {
      api: new TrucelineApi(`http://127.0.0.1:${port}`, JWT_SECRET),
      scheduler,
      serviceLines: lines,
    };
  }

  async function stopAll(): Promise<void> {
    await Promise.all(services.map((s) => s.stop()));
    services = [];
    await relay?.stop({ release: true });
    await relaySql?.close();
    relay = undefined;
    relaySql = undefined;
    await group.killAll();
  }

  it('restarted without TRUCELINE_CLOCK_START, every process keeps the drill clock', async () => {
    const first = await startAll(DRILL_START, DRILL_START);
    const incidentId = await first.api.report(freshSector('DRILL'));
    // The services run: every consuming service took the report's events through the relay and
    // Kafka (the verification request itself is decided with the report, by the API).
    const [report] = await first.api.eventsOfType(incidentId, 'BreachReported');
    const consuming = SERVICES.filter((s) => s.consumes !== null).length;
    await eventually(
      async () => {
        const { rows } = await (relaySql as SqlClient).query<{ groups: number }>(
          `SELECT count(*)::int AS groups FROM consumer_processed
            WHERE group_id LIKE $1 AND event_id = $2`,
          [`%.drill-${run}`, report.id],
        );
        return rows[0].groups === consuming ? true : undefined;
      },
      'the report through Kafka to every service',
      30_000,
    );
    await first.api.advanceClock(DRILL_NOW);
    await stopAll();

    // The API and the scheduler with only TRUCELINE_CLOCK=exercise; the services with a start
    // that disagrees with the drill's clock.
    const again = await startAll(undefined, OTHER_START);
    await expectDrillAsLeft(again.api, incidentId);
    const reported = again.serviceLines.filter((line) =>
      line.includes(
        `TRUCELINE_CLOCK_START=${OTHER_START} ignored: this store's exercise clock stands at ${DRILL_NOW}`,
      ),
    );
    expect(reported).toHaveLength(SERVICES.length);
    expect(group.unexpectedExits()).toEqual([]);
  }, 120_000);
});
