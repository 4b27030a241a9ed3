import { INestApplication } from '@nestjs/common';
import { loadConfig } from '@truceline/config';
import { POLICY_STREAM } from '@truceline/domain';
import { toFeedMessage, toKafkaMessage } from '@truceline/messaging';
import { createRuntime, EmbeddedRuntime } from '@truceline/workflows';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../apps/api/src/app';
import { SseClient } from '../apps/api/src/feeds/testing/sse-client';
import {
  startWebhookReceiver,
  testWebhookSecret,
  WebhookReceiver,
} from '../libs/workflows/src/notification/webhook-receiver.testing';
import {
  AUDITOR,
  eventually,
  expectStatus,
  freshSector,
  ministryOf,
  TrucelineApi,
} from './support/truceline-api';

/**
 * SPEC §2: a ministry must never mistake a drill for a real breach. After a drill (a breach
 * reported, confirmed, escalated to tier 2) every surface a person or a partner system sees is
 * walked, and each must carry the exercise mark: stored events, the policy adoption, the
 * incident view (operator and ministry), list items, the audit, the feed over HTTP (page and
 * SSE), the messages of the events topic and of the partner's feed topic, and webhook bodies.
 */
const JWT_SECRET = 'drill-marks-e2e-secret-of-32-characters';
const PARTNER = 'PL';
const SECRET = testWebhookSecret('drill-marks-pl');

describe('drill data is marked on every surface', () => {
  let dir: string;
  let receiver: WebhookReceiver;
  let runtime: EmbeddedRuntime;
  let app: INestApplication;
  let api: TrucelineApi;
  let incidentId: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'truceline-drill-marks-'));
    receiver = await startWebhookReceiver({ [PARTNER]: SECRET });
    const partnersFile = join(dir, 'partners.json');
    writeFileSync(
      partnersFile,
      JSON.stringify({
        partners: { [PARTNER]: { webhookUrl: receiver.urlFor(PARTNER), secret: SECRET } },
      }),
    );
    const config = loadConfig({
      TRUCELINE_CLOCK: 'exercise',
      TRUCELINE_CLOCK_START: '2026-03-01T00:00:00Z',
      TRUCELINE_DATA_DIR: join(dir, 'data'),
      TRUCELINE_JWT_SECRET: JWT_SECRET,
      TRUCELINE_PARTNERS_FILE: partnersFile,
      LOG_LEVEL: 'warn',
    });
    runtime = await createRuntime(config, {
      logger: { log: () => undefined, error: (message, error) => console.error(message, error) },
    });
    app = await createApp(runtime, config);
    await app.listen(0, '127.0.0.1');
    api = new TrucelineApi(
      `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`,
      JWT_SECRET,
    );

    // The drill: reported, confirmed by override, hostilities persist (tier 2, tasks).
    incidentId = await api.report(freshSector('DRILL'));
    await api.command(`/v1/incidents/${incidentId}/verdict`, {
      verdict: 'confirmed',
      reason: 'drill footage',
    });
    await api.command(`/v1/incidents/${incidentId}/hostilities`, { observation: 'drill fire' });
    await runtime.settle();
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await runtime?.close();
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stored events, the policy adoption and the events topic', async () => {
    const events = await api.events(incidentId);
    expect(events.length).toBeGreaterThan(3);
    for (const event of events) {
      expect(event.metadata).toMatchObject({ exercise: true });
      expect(toKafkaMessage(event, { source: '/truceline' }).headers.ce_exercise).toBe('true');
    }
    const adoptions = await runtime.store.readStream(POLICY_STREAM);
    expect(adoptions.map((e) => e.metadata.exercise)).toEqual([true]);
  });

  it('the incident view, for an operator, an auditor and a ministry, and list items', async () => {
    expect((await api.incident(incidentId)).exercise).toBe(true);
    expect((await api.incident(incidentId, AUDITOR)).exercise).toBe(true);
    expect((await api.incident(incidentId, ministryOf(PARTNER))).exercise).toBe(true);
    const page = expectStatus(
      await api.get<{ items: { incidentId: string; exercise: boolean }[] }>('/v1/incidents'),
      200,
    );
    expect(page.items.find((i) => i.incidentId === incidentId)).toMatchObject({ exercise: true });
  });

  it('the audit', async () => {
    const audit = expectStatus(
      await api.get<{ exercise: boolean; knownAt: { exercise: boolean } }>(
        `/v1/incidents/${incidentId}/audit`,
        AUDITOR,
      ),
      200,
    );
    expect(audit).toMatchObject({ exercise: true, knownAt: { exercise: true } });
  });

  it("the partner's feed: HTTP page, SSE stream and its topic's messages", async () => {
    const page = expectStatus(
      await api.get<{
        entries: {
          seq: number;
          incidentId: string | null;
          exercise: boolean;
          type: string;
          id: string;
          occurredAt: string;
          recordedAt: string;
          position: number;
          data: unknown;
        }[];
      }>('/v1/feed?limit=500', ministryOf(PARTNER)),
      200,
    );
    const ours = page.entries.filter((e) => e.incidentId === incidentId);
    // The report, the confirmation, the hostilities, tier notices 0–2, PL's task.
    expect(ours.map((e) => e.type)).toEqual(
      expect.arrayContaining(['BreachReported', 'IncidentTierChanged', 'CoalitionTaskAssigned']),
    );
    // The checkpoint the audit was signed against went to the feed as drill data too.
    const checkpoints = page.entries.filter((e) => e.type === 'LogCheckpoint');
    expect(checkpoints.length).toBeGreaterThan(0);
    for (const entry of [...ours, ...checkpoints]) {
      expect(entry.exercise).toBe(true);
      expect(toFeedMessage(PARTNER, entry).headers.ce_exercise).toBe('true');
    }

    const stream = await SseClient.open(new URL('/v1/feed/stream?after=0', api.baseUrl), {
      authorization: `Bearer ${api.token(ministryOf(PARTNER))}`,
    });
    try {
      await stream.until((c) => c.events.length >= page.entries.length, 'the feed over SSE');
      const streamed = stream.events
        .map((e) => JSON.parse(e.data) as { incidentId: string; exercise: boolean })
        .filter((e) => e.incidentId === incidentId);
      expect(streamed).toHaveLength(ours.length);
      expect(streamed.every((e) => e.exercise === true)).toBe(true);
    } finally {
      stream.close();
    }
  });

  it('webhook bodies', async () => {
    const notices = await eventually(async () => {
      const ofIncident = receiver.accepted().filter((r) => r.notice.incidentId === incidentId);
      // Tier 0, 1 and 2 changes and PL's tier-2 task.
      return ofIncident.length >= 4 ? ofIncident : undefined;
    }, 'webhook notices of the drill');
    expect(notices.every((r) => r.notice.exercise === true)).toBe(true);
  });
});
