import { INestApplication } from '@nestjs/common';
import { loadConfig } from '@truceline/config';
import {
  IncidentEventDataMap,
  knownPartners,
  NotificationDelivered,
  POLICY_V1,
  StoredEvent,
} from '@truceline/domain';
import { createTestDatabase, TestDatabase } from '@truceline/testing';
import { readScenarioFile, runScenario } from '@truceline/scenarios';
import { createRuntime, EmbeddedRuntime } from '@truceline/workflows';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../apps/api/src/app';
import {
  eventually,
  ReceivedNotice,
  startWebhookReceiver,
  testWebhookSecret,
  WebhookReceiver,
} from '../libs/workflows/src/notification/webhook-receiver.testing';
import { sharedScenarioFile } from './support/shared-scenarios';

/**
 * SPEC §5 acceptance for partner webhooks: the seed scenario runs through the real HTTP API of
 * the embedded system, whose partners file points every partner at a real local receiver. The
 * receiver checks every signature with that partner's secret; the store must hold exactly one
 * NotificationDelivered per notice.
 */
const JWT_SECRET = 'e2e-webhooks-secret-of-at-least-32-characters';
const PARTNERS = knownPartners(POLICY_V1); // DE, EU, FR, GB, IS, NO, PL, TR, UA, US
const secretOf = (partner: string) => testWebhookSecret(`${partner}-e2e`);
/** Configured with a secret the receiver does not share: every request to it must be refused. */
const MISCONFIGURED = 'NL';
/** Answers 500 to the first two attempts of every notice. */
const FLAKY = 'PL';

interface System {
  baseUrl: string;
  runtime: EmbeddedRuntime;
  close(): Promise<void>;
}

async function startSystem(receiver: WebhookReceiver, databaseUrl?: string): Promise<System> {
  const dir = mkdtempSync(join(tmpdir(), 'truceline-webhooks-'));
  const partnersFile = join(dir, 'partners.json');
  const partners = Object.fromEntries(
    [...PARTNERS, MISCONFIGURED].map((p) => [
      p,
      { webhookUrl: receiver.urlFor(p), secret: secretOf(p) },
    ]),
  );
  writeFileSync(partnersFile, JSON.stringify({ partners }, null, 2));
  const config = loadConfig({
    TRUCELINE_CLOCK: 'exercise',
    TRUCELINE_CLOCK_START: '2026-03-01T00:00:00Z',
    TRUCELINE_DATA_DIR: join(dir, 'data'),
    TRUCELINE_JWT_SECRET: JWT_SECRET,
    TRUCELINE_PARTNERS_FILE: partnersFile,
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: 'warn',
  });
  let runtime: EmbeddedRuntime | undefined;
  let app: INestApplication | undefined;
  const close = async () => {
    await app?.close();
    await runtime?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    runtime = await createRuntime(config, {
      logger: { log: () => undefined, error: (message, error) => console.error(message, error) },
    });
    app = await createApp(runtime, config);
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as AddressInfo;
    return { baseUrl: `http://127.0.0.1:${port}`, runtime, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** What the incident calls for, worked out from its view and events, not by the planner. */
function expectedNotices(tiers: number[], events: StoredEvent[]): string[] {
  const keys = tiers.flatMap((tier) => PARTNERS.map((p) => `tier-change:${tier}:${p}`));
  for (const event of events) {
    if (event.type === 'CoalitionTaskAssigned') {
      const task = event.data as IncidentEventDataMap['CoalitionTaskAssigned'];
      keys.push(`task:${task.taskId}:${task.member}`);
    }
    if (event.type === 'WarningIssued') {
      const { reference } = event.data as IncidentEventDataMap['WarningIssued'];
      keys.push(...PARTNERS.map((p) => `warning:${reference}:${p}`));
    }
  }
  return keys.sort();
}

const engines: [string, () => Promise<{ url?: string; drop(): Promise<void> }>][] = [
  ['PGlite', async () => ({ drop: async () => undefined })],
  [
    'PostgreSQL',
    async () => {
      const database: TestDatabase = await createTestDatabase();
      return { url: database.url, drop: () => database.drop() };
    },
  ],
];

describe.each(engines)('partner webhooks in the seed scenario on %s', (_engine, createDatabase) => {
  let database: { url?: string; drop(): Promise<void> };
  let receiver: WebhookReceiver;
  let system: System;

  beforeAll(async () => {
    database = await createDatabase();
    receiver = await startWebhookReceiver({
      ...Object.fromEntries(PARTNERS.map((p) => [p, secretOf(p)])),
      [MISCONFIGURED]: testWebhookSecret('the secret NL really agreed to'),
    });
    receiver.respondWith((r) => (r.partner === FLAKY && r.attempt <= 2 ? 500 : 204));
    system = await startSystem(receiver, database.url);
  }, 60_000);
  afterAll(async () => {
    await system?.close();
    await receiver?.close();
    await database?.drop();
  });

  it('notifies every partner of every tier and warning, each member of its tasks, and records each delivery once', async () => {
    const result = await runScenario(
      readScenarioFile(sharedScenarioFile('seed-three-tier-escalation')),
      { baseUrl: system.baseUrl, jwtSecret: JWT_SECRET },
    );
    expect(result.passed).toBe(true);
    const incidentId = result.incidents[''];
    const view = await system.runtime.queries.get(incidentId);
    const events = (await system.runtime.queries.events(incidentId)) ?? [];
    const expected = expectedNotices(
      view!.tierHistory.map((t) => t.tier),
      events,
    );
    // 4 tiers and 2 warnings to 10 partners, 14 tasks to their members.
    expect(expected).toHaveLength(4 * 10 + 2 * 10 + 14);

    const ofIncident = (notices: ReceivedNotice[]) =>
      notices.filter((r) => r.notice.incidentId === incidentId);
    const keyOf = ({ notice, partner }: ReceivedNotice) => {
      const ref = {
        'tier-change': notice.tier,
        task: notice.taskId,
        warning: notice.warning?.reference,
      };
      return `${notice.subject}:${ref[notice.subject]}:${partner}`;
    };
    const records = async () =>
      ((await system.runtime.queries.events(incidentId)) ?? []).filter(
        (e): e is StoredEvent<'NotificationDelivered', NotificationDelivered> =>
          e.type === 'NotificationDelivered',
      );
    await eventually(async () => {
      expect(ofIncident(receiver.accepted()).map(keyOf).sort()).toEqual(expected);
      expect(await records()).toHaveLength(expected.length);
    }, 30_000);

    // Each notice was taken in exactly once (PL's after two refused attempts) and recorded once.
    const received = ofIncident(receiver.received);
    const flaky = received.filter((r) => r.partner === FLAKY);
    expect(flaky.length).toBe(3 * new Set(flaky.map((r) => r.deliveryId)).size);
    expect(received.filter((r) => r.partner !== FLAKY)).toHaveLength(
      expected.filter((k) => !k.endsWith(`:${FLAKY}`)).length,
    );
    const recorded = await records();
    const acceptedById = new Map(ofIncident(receiver.accepted()).map((r) => [r.deliveryId, r]));
    expect(new Set(recorded.map((e) => e.data.reference))).toEqual(new Set(acceptedById.keys()));
    for (const record of recorded) {
      const { notice, partner } = acceptedById.get(record.data.reference)!;
      expect(record.data).toEqual({
        partner,
        subject: notice.subject,
        ...(notice.tier === undefined ? {} : { tier: notice.tier }),
        channel: 'webhook',
        reference: notice.deliveryId,
      });
      expect(record.metadata).toMatchObject({
        actor: { id: 'notification-service', role: 'service' },
        exercise: true,
      });
      expect(notice.exercise).toBe(true);
    }

    // The receiver really checks: NL's endpoint holds another secret and refused everything.
    const refused = receiver.rejected.filter((r) => r.partner === MISCONFIGURED);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((r) => r.reason === 'bad-signature')).toBe(true);
    expect(receiver.rejected.filter((r) => r.partner !== MISCONFIGURED)).toEqual([]);
    expect(recorded.filter((e) => e.data.partner === MISCONFIGURED)).toEqual([]);
  }, 120_000);
});
