import { incidentIdOf, StoredEvent } from '@truceline/domain';
import { openDatabase, SqlClient } from '@truceline/event-store';
import { consumerGroupOf, createKafka, EVENTS_TOPIC, parseBrokers } from '@truceline/messaging';
import { createTestDatabase, TestDatabase } from '@truceline/testing';
import {
  readScenarioFile,
  runScenario,
  RunScenarioOptions,
  Scenario,
  ScenarioResult,
} from '@truceline/scenarios';
import { Admin } from 'kafkajs';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CrashLog } from './support/crash-log';
import {
  AppendSignal,
  CONSUMING_SERVICES,
  describeGroup,
  GroupMembership,
  LogInspector,
  scrapeCounter,
  startDistributedTopology,
  verificationInstance,
} from './support/distributed-topology';
import { countByType, streamViolations } from './support/event-invariants';
import { ProcessGroup } from './support/process-group';
import { sharedScenarioFile, sharedScenarioFiles } from './support/shared-scenarios';

/**
 * Distributed mode end to end: the API, the relay, the deadline scheduler and the
 * services run as separate built processes against real PostgreSQL and the test run's Kafka,
 * verification as two instances of one consumer group. The shared scenarios pass; then the seed
 * scenario runs again while each service is SIGKILLed and restarted in turn at the moment it
 * reacts, and every effect must be in the log exactly once.
 */
const JWT_SECRET = 'distributed-e2e-secret-of-32-characters';
const VERIFIERS = [verificationInstance(0), verificationInstance(1)];
const PROCESSED = 'truceline_consumer_processed_total';
const DUPLICATES = 'truceline_consumer_duplicates_total';
/**
 * A SIGKILLed consumer stays a member of its group until its session times out (30 s): its
 * partitions — and, once the restarted instance asks to join, the whole group — wait that long.
 * The runner's default 10 s for the services to react is too short for that, by design of Kafka.
 */
const CRASH_POLL_TIMEOUT_MS = 50_000;
/** Long enough for a step's request to reach the API, short enough to beat the relay to it. */
const IN_FLIGHT_MS = 20;
const SEED = 'seed-three-tier-escalation';
const MISSED = 'missed-warning';

describe('distributed mode: separate processes, real Kafka, real PostgreSQL', () => {
  const group = new ProcessGroup();
  const log = new CrashLog(group);
  /** Incident id → the scenario (file name) and phase that created it. */
  const incidents = new Map<string, { scenario: string; phase: string }>();
  let database: TestDatabase | undefined;
  let sql: SqlClient | undefined;
  let inspector: LogInspector | undefined;
  let admin: Admin | undefined;
  let appends: AppendSignal | undefined;
  let baseUrl: string;

  beforeAll(async () => {
    const brokers = process.env.KAFKA_BROKERS;
    if (!brokers) throw new Error('KAFKA_BROKERS is not set: run through jest (global setup)');
    database = await createTestDatabase();
    ({ baseUrl } = await startDistributedTopology(group, {
      databaseUrl: database.url,
      brokers,
      jwtSecret: JWT_SECRET,
      verificationInstances: VERIFIERS.length,
    }));
    log.notes.push(`all ${group.all.length} processes ready at t=${log.elapsed.toFixed(1)} s`);
    sql = await openDatabase({ databaseUrl: database.url });
    inspector = new LogInspector(sql);
    appends = await AppendSignal.open(sql);
    admin = createKafka({ brokers: parseBrokers(brokers), clientId: 'distributed-e2e' }).admin();
    await admin.connect();
  }, 120_000);

  afterAll(async () => {
    await group.killAll();
    await admin?.disconnect().catch(() => undefined);
    await appends?.close().catch(() => undefined);
    await sql?.close().catch(() => undefined);
    await database?.drop().catch(() => undefined);
    console.log(log.summary());
  }, 60_000);

  /** Runs one scenario through the API, recording its incidents; fails with the whole report. */
  async function run(
    phase: string,
    name: string,
    options: Partial<RunScenarioOptions> = {},
  ): Promise<ScenarioResult> {
    const lines: string[] = [];
    const started = Date.now();
    const result = await runScenario(readScenarioFile(sharedScenarioFile(name)), {
      baseUrl,
      jwtSecret: JWT_SECRET,
      log: (line) => lines.push(line),
      ...options,
    });
    log.runs.push({ phase, name, seconds: (Date.now() - started) / 1000, result });
    for (const id of Object.values(result.incidents)) incidents.set(id, { scenario: name, phase });
    const report = () => `${lines.join('\n')}\n\n${log.summary()}\n\n${group.logs()}`;
    expect(result.passed ? 'passed' : report()).toBe('passed');
    return result;
  }

  const processedBy = async (names: readonly string[]) =>
    Promise.all(names.map((name) => scrapeCounter(group.get(name), PROCESSED)));

  it.each(sharedScenarioFiles().map((file) => [basename(file, '.json')]))(
    '%s passes with every service a process of its own',
    (name) => run('clean', name).then(() => undefined),
    60_000,
  );

  it('two verification instances in one group split the partitions and both handle events', async () => {
    const membership = await stableGroup(admin as Admin, 'verification', VERIFIERS.length);
    expectSplit(membership, await partitionCount(admin as Admin));

    // Incidents land on partitions by their id: a few more cheap incidents (rejected at once)
    // until each instance has handled some — which cannot happen if one of them owns nothing.
    for (let extra = 0; extra < 6 && (await processedBy(VERIFIERS)).includes(0); extra++)
      await run('spread', 'false-alarm');
    const processed = await processedBy(VERIFIERS);
    log.notes.push(`handled per verification instance before the crashes: ${processed.join(', ')}`);
    expect(Math.min(...processed)).toBeGreaterThan(0);
  }, 90_000);

  it('seed: each service SIGKILLed and restarted as it reacts — the scenario still passes', async () => {
    const at = seedMoments(readScenarioFile(sharedScenarioFile(SEED)));
    let before: number[] = [];
    let owner = VERIFIERS[0];
    // Each service dies the moment its reaction to the step is in the log — checked at each
    // commit — while it records the cause as handled and commits the offset (the note tells
    // whether the kill beat the ledger record).
    const effects = (
      [
        [at.quorumFinding, 'verification', 'BreachConfirmed', 'quorum finding'],
        [at.warningDecision, 'notification', 'WarningIssued', 'authorize-warning'],
        [at.hostilities, 'coalition-tasking', 'CoalitionTaskAssigned', 'tier 2 tasking', 2],
        [at.assessment, 'coalition-tasking', 'CoalitionTaskAssigned', 'tier 3 tasking', 3],
      ] as [number, string, string, string, number?][]
    ).map(([step, service, type, what, tier]): Effect => ({ step, service, type, what, tier }));
    const killOnEffect = (effect: Effect, incidentId: string) => {
      const db = inspector as LogInspector;
      const reaction = () =>
        db.reactionCause(incidentId, effect.type, `${effect.service}-service`, effect.tier);
      log.killWhen(
        effect.service === 'verification' ? owner : effect.service,
        `after step ${effect.step + 1} (${effect.what})`,
        (appends as AppendSignal).when(async () => (await reaction()) !== undefined),
        async () => {
          const stored = await reaction();
          if (!stored) return `— its ${effect.type} not seen in time`;
          return (await db.handled(effect.service, stored.causationId))
            ? `— ${effect.type} stored, its cause already marked handled`
            : `— ${effect.type} stored, its cause not yet marked handled`;
        },
      );
    };

    await run('crash', SEED, {
      pollTimeoutMs: CRASH_POLL_TIMEOUT_MS,
      onProgress: async (p) => {
        if (p.kind === 'sending' && p.index === at.report) before = await processedBy(VERIFIERS);
        // The instance that handled the report owns the incident's partition: the one to kill.
        if (p.kind === 'step' && p.result.index === at.report)
          owner = await instanceThatHandled(before);
        if (p.kind === 'clock' && p.index === at.middle)
          await log.killAndRestart('scheduler', `as the clock moved for step ${p.index + 1}`);
        if (p.kind !== 'sending') return;
        const incidentId = /^\w+ \/v1\/incidents\/([^/]+)\//.exec(p.request)?.[1] ?? '';
        for (const effect of effects.filter((e) => e.step === p.index))
          killOnEffect(effect, incidentId);
        // The relay dies while it publishes the step before the hostilities.
        if (p.index === at.hostilities - 1)
          log.killLater('relay', `while step ${p.index + 1} is published`, IN_FLIGHT_MS);
      },
    });

    await log.restarted();
    expect(log.kills.map((k) => k.process).sort()).toEqual(
      [
        'relay',
        owner,
        'notification',
        'coalition-tasking',
        'scheduler',
        'coalition-tasking',
      ].sort(),
    );
  }, 200_000);

  it('missed-warning: the scheduler SIGKILLed as the deadline passes — one DeadlineMissed', async () => {
    const scenario = readScenarioFile(sharedScenarioFile(MISSED));
    const due = scenario.steps.findIndex((s) => s.expect?.obligations?.warning === 'missed');
    expect(due).toBeGreaterThan(0);
    await run('crash', MISSED, {
      pollTimeoutMs: CRASH_POLL_TIMEOUT_MS,
      onProgress: async (p) => {
        if (p.kind === 'clock' && p.index === due)
          await log.killAndRestart('scheduler', `as the clock passed the warning's due time`);
      },
    });
    await log.restarted();
    expect(log.kills.at(-1)?.process).toBe('scheduler');
  }, 90_000);

  describe('afterwards, once the log settled', () => {
    let events: StoredEvent[];

    beforeAll(async () => {
      if (!inspector) throw new Error('the processes did not start (see the first failure)');
      await inspector.waitUntilSettled(60_000);
      events = await inspector.readAll();
      // Redeliveries the restarted consumers recognised (a kill landed before the offset commit).
      const consumers = [...VERIFIERS, 'notification', 'coalition-tasking'].map((n) =>
        group.get(n),
      );
      const skipped = await Promise.all(consumers.map((p) => scrapeCounter(p, DUPLICATES)));
      log.notes.push(
        `redelivered and skipped as already handled, since each process's start: ${consumers
          .map((p, i) => `${p.name} ${skipped[i]}`)
          .join(', ')}`,
      );
    }, 70_000);

    it('every event reached every group once; nothing parked; no process died on its own', async () => {
      const state = await (inspector as LogInspector).state();
      const all = Object.fromEntries(CONSUMING_SERVICES.map((s) => [s, events.length]));
      expect(state.processed).toEqual(all);
      expect(state.parked).toEqual(Object.fromEntries(CONSUMING_SERVICES.map((s) => [s, 0])));
      expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
      expect(group.unexpectedExits()).toEqual([]);
      expect(group.all.filter((p) => !p.running).map((p) => p.name)).toEqual([]);
    });

    it('has every effect exactly once in each incident stream', () => {
      const streams = byIncident(events);
      expect([...streams.keys()].sort()).toEqual([...incidents.keys()].sort());
      const problems = [...streams].flatMap(([id, stream]) =>
        effectProblems(incidents.get(id)?.scenario ?? '?', stream).map(
          (p) => `${incidents.get(id)?.phase} ${incidents.get(id)?.scenario} ${id}: ${p}`,
        ),
      );
      expect(problems).toEqual([]);
    });

    it('the runs with crashes left the same events as the runs without', () => {
      const streams = byIncident(events);
      for (const scenario of [SEED, MISSED]) {
        const counts = (phase: string) =>
          [...incidents]
            .filter(([, i]) => i.scenario === scenario && i.phase === phase)
            .map(([id]) => countByType(streams.get(id) ?? []));
        const clean = counts('clean');
        expect(clean).toHaveLength(1);
        expect(counts('crash')).toEqual(clean);
      }
    });

    it('the two verification instances (one restarted) split the partitions again', async () => {
      expectSplit(
        await stableGroup(admin as Admin, 'verification', VERIFIERS.length),
        await partitionCount(admin as Admin),
      );
    }, 60_000);
  });

  /** Which verification instance's processed count grew since `before` (waits a little). */
  async function instanceThatHandled(before: number[]): Promise<string> {
    for (let tries = 0; tries < 25; tries++) {
      const grown = (await processedBy(VERIFIERS)).map((n, i) => n - before[i]);
      const best = grown.indexOf(Math.max(...grown));
      if (grown[best] > 0) {
        log.notes.push(`the seed incident's partition is owned by ${VERIFIERS[best]}`);
        return VERIFIERS[best];
      }
      await sleep(200);
    }
    log.notes.push(`no verification instance counted the report: killing ${VERIFIERS[0]}`);
    return VERIFIERS[0];
  }
});

/** A service's reaction to a scenario step, as found in the log (`tier` for coalition tasks). */
interface Effect {
  step: number;
  service: string;
  type: string;
  what: string;
  tier?: number;
}

/** The step indices of the seed scenario where each service reacts, found by their requests. */
function seedMoments(scenario: Scenario) {
  const find = (test: (request: string, body: Record<string, unknown>) => boolean) =>
    scenario.steps.findIndex(
      (s) => s.request !== undefined && test(s.request, (s.body ?? {}) as Record<string, unknown>),
    );
  const findings = scenario.steps.flatMap((s, i) => (s.request?.endsWith('/findings') ? [i] : []));
  const hostilities = find((r) => r.endsWith('/hostilities'));
  const assessment = find((r) => r.endsWith('/assessments'));
  const moments = {
    report: find((r) => r === 'POST /v1/incidents'),
    // The second finding completes the quorum: verification confirms.
    quorumFinding: findings[1] ?? -1,
    warningDecision: find((_r, b) => b.decision === 'authorize-warning'),
    hostilities,
    middle: Math.floor((hostilities + assessment) / 2),
    assessment,
  };
  expect(Object.values(moments).every((i) => i >= 0)).toBe(true);
  return moments;
}

/** What must hold for one incident's stream, however often its services were killed. */
function effectProblems(scenario: string, stream: StoredEvent[]): string[] {
  const problems = streamViolations(stream);
  const count = (type: string, where: (e: StoredEvent) => boolean = () => true) =>
    stream.filter((e) => e.type === type && where(e)).length;
  const expectCount = (what: string, actual: number, expected: number) => {
    if (actual !== expected) problems.push(`${what}: ${actual}, expected ${expected}`);
  };
  const data = (e: StoredEvent) => e.data as Record<string, unknown>;
  const confirmed = scenario === 'false-alarm' ? 0 : 1;
  expectCount('VerificationRequested', count('VerificationRequested'), 1);
  expectCount('BreachConfirmed', count('BreachConfirmed'), confirmed);
  expectCount('BreachRejected', count('BreachRejected'), 1 - confirmed);
  // One warning issued by the notification service per authorize-warning decision, plus the
  // ones an operator recorded through POST /warnings.
  const steps = readScenarioFile(sharedScenarioFile(scenario)).steps;
  const byService = (e: StoredEvent) => e.metadata.actor.id === 'notification-service';
  expectCount(
    'WarningIssued by the notification service',
    count('WarningIssued', byService),
    count('DecisionRecorded', (e) => data(e).decision === 'authorize-warning'),
  );
  expectCount(
    'WarningIssued by others',
    count('WarningIssued', (e) => !byService(e)),
    steps.filter((s) => s.request?.endsWith('/warnings')).length,
  );
  expectCount('DeadlineMissed', count('DeadlineMissed'), scenario === MISSED ? 1 : 0);
  const tasks = stream.filter((e) => e.type === 'CoalitionTaskAssigned').map(data);
  const tier = (n: number) => tasks.filter((t) => t.tier === n).length;
  expectCount('tier 2 CoalitionTaskAssigned', tier(2), scenario === SEED ? 9 : 0);
  expectCount('tier 3 CoalitionTaskAssigned', tier(3), scenario === SEED ? 5 : 0);
  const distinct = new Set(tasks.map((t) => `${t.tier} ${t.member} ${t.capability}`));
  expectCount('distinct (tier, member, capability) tasks', distinct.size, tasks.length);
  return problems;
}

function byIncident(events: StoredEvent[]): Map<string, StoredEvent[]> {
  const streams = new Map<string, StoredEvent[]>();
  for (const event of events) {
    const id = incidentIdOf(event.streamId);
    if (id) streams.set(id, [...(streams.get(id) ?? []), event]);
  }
  return streams;
}

async function partitionCount(admin: Admin): Promise<number> {
  const { topics } = await admin.fetchTopicMetadata({ topics: [EVENTS_TOPIC] });
  return topics[0].partitions.length;
}

/** Waits until the group is Stable with `members` members (a dead one must time out first). */
async function stableGroup(admin: Admin, service: string, members: number) {
  const giveUpAt = Date.now() + 45_000;
  let membership: GroupMembership;
  do {
    membership = await describeGroup(admin, consumerGroupOf(service));
    if (membership.state === 'Stable' && membership.members.length === members) break;
    await sleep(500);
  } while (Date.now() < giveUpAt);
  return membership;
}

/** Every member owns some partitions, none owns one twice, together they own all. */
function expectSplit(membership: GroupMembership, partitions: number) {
  expect(membership.state).toBe('Stable');
  expect(membership.members).toHaveLength(VERIFIERS.length);
  const owned = membership.members.map((m) => m.partitions);
  expect(owned.every((p) => p.length > 0)).toBe(true);
  expect(owned.flat().sort((a, b) => a - b)).toEqual([...Array(partitions).keys()]);
}
