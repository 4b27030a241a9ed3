import { randomUUID } from 'node:crypto';
import { InProcessSystem, startInProcessSystem } from './support/in-process-system';
import { describeOnEachStore } from './support/on-each-store';
import {
  AUDITOR,
  breachReport,
  Created,
  expectStatus,
  freshSector,
  hoursAfter,
  Json,
  ministryOf,
  OPERATOR,
  Problem,
  SERVICE,
  StoreLocation,
  TrucelineApi,
  verifierOf,
} from './support/truceline-api';

/**
 * The acceptance points of the HTTP API (SPEC §2, §5, §6): the real app over HTTP on the real
 * runtime and store, once on each store. Tests share one instance per store and never move its
 * exercise clock back; each works on incidents of its own sector.
 */
// The e2e project's testTimeout does not reach tests (jest reads it from the global config only);
// a poll gives up after 10 s and must fail with its own message, not the 5 s default.
jest.setTimeout(30_000);
const MINUTE_MS = 60_000;

const expectProblem = (
  response: { status: number; headers: Headers; body: Problem },
  status: number,
) => {
  expect({ status: response.status, body: response.body }).toMatchObject({
    status,
    body: { status },
  });
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
};

describeOnEachStore('the HTTP API on %s', (suite) => {
  const { store, settledHead } = suite;
  let system: InProcessSystem;
  let api: TrucelineApi;

  beforeAll(() => ({ system, api } = suite));

  /** Runs `act` and expects the log to hold nothing new afterwards. */
  const expectNothingAppended = async (act: () => Promise<void>) => {
    const head = await settledHead();
    await act();
    expect(await settledHead()).toBe(head);
  };

  /** A reported breach, confirmed by an operator's override: tier 1, open. */
  const confirmedIncident = async (sector = freshSector()) => {
    const id = await api.report(sector);
    await api.command(`/v1/incidents/${id}/verdict`, { verdict: 'confirmed', reason: 'video' });
    await system.runtime.settle();
    return id;
  };

  it('refuses an invalid report with 400 problem+json naming every bad field, appending nothing', async () => {
    const head = await settledHead();
    const sector = freshSector();
    const { source: _source, ...withoutSource } = breachReport(sector);

    const response = await api.post<Problem>('/v1/incidents', {
      ...withoutSource,
      location: { sector, frontlineKm: 5000 },
      colour: 'red',
    });

    expectProblem(response, 400);
    const fields = (response.body.errors ?? []).map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['location.frontlineKm', 'source', 'colour']));
    expect(await settledHead()).toBe(head);
    const incidentEvents = (await system.runtime.store.readAll()).filter((e) =>
      e.streamId.startsWith('incident-'),
    );
    expect(incidentEvents).toEqual([]);
  });

  it('answers 401 without a token and 403 for a role the route does not allow', async () => {
    await expectNothingAppended(async () => {
      const anonymous = await api.call<Problem>('POST', '/v1/incidents', {
        as: null,
        body: breachReport(freshSector()),
      });
      expectProblem(anonymous, 401);

      const ministry = await api.post<Problem>(
        '/v1/incidents',
        breachReport(freshSector()),
        ministryOf('GB'),
      );
      expectProblem(ministry, 403);
      expectProblem(await api.get<Problem>('/v1/incidents', verifierOf('US')), 403);
    });
  });

  it('answers 404 for an unknown incident, on a command and on GET', async () => {
    const unknown = randomUUID();

    await expectNothingAppended(async () => {
      const command = await api.post<Problem>(`/v1/incidents/${unknown}/decisions`, {
        authority: 'UA NSC',
        decision: 'other',
        rationale: 'r',
      });
      expectProblem(command, 404);
    });
    expectProblem(await api.get<Problem>(`/v1/incidents/${unknown}`), 404);
    expectProblem(await api.get<Problem>(`/v1/incidents/${unknown}/events`), 404);
  });

  it('refuses hostilities before confirmation with 409 and a reason, appending nothing', async () => {
    const id = await api.report(freshSector());

    await expectNothingAppended(async () => {
      const response = await api.post<Problem>(`/v1/incidents/${id}/hostilities`, {
        observation: 'shelling continues',
      });
      expectProblem(response, 409);
      expect(response.body.reason).toBe('not-confirmed');
    });
  });

  it('refuses a decision that could never take effect with 409 and a reason, appending nothing', async () => {
    const id = await api.report(freshSector());
    const decide = (decision: string) =>
      api.post<Problem>(`/v1/incidents/${id}/decisions`, {
        authority: 'UA NSC',
        decision,
        rationale: 'the plan',
      });

    // A warning can only be issued for a confirmed breach: authorizing it earlier is refused.
    await expectNothingAppended(async () => {
      const response = await decide('authorize-warning');
      expectProblem(response, 409);
      expect(response.body.reason).toBe('not-confirmed');
    });
    await api.command(`/v1/incidents/${id}/verdict`, { verdict: 'confirmed', reason: 'video' });
    await api.command(`/v1/incidents/${id}/assessments`, {
      scale: 'large-scale',
      assessor: 'joint-cell',
    });
    const activation = { elements: ['US intelligence'], reference: 'OPORD-7' };

    // No intervention without a decision (SPEC §5).
    await expectNothingAppended(async () => {
      const response = await api.post<Problem>(`/v1/incidents/${id}/western-response`, activation);
      expectProblem(response, 409);
      expect(response.body.reason).toBe('no-authorizing-decision');
    });
    expect((await decide('authorize-warning')).status).toBe(201);
    expect((await decide('authorize-western-response')).status).toBe(201);
    expect((await api.post(`/v1/incidents/${id}/western-response`, activation)).status).toBe(201);
  });

  it('refuses an occurredAt more than 5 minutes ahead of the clock with 400 and accepts 4 minutes', async () => {
    const now = Date.parse(await api.clockNow());
    const at = (minutes: number) => new Date(now + minutes * MINUTE_MS).toISOString();
    const sector = freshSector();

    await expectNothingAppended(async () => {
      const response = await api.post<Problem>(
        '/v1/incidents',
        breachReport(sector, { occurredAt: at(6) }),
      );
      expectProblem(response, 400);
      expect(response.body.errors?.map((e) => e.field)).toEqual(['occurredAt']);
    });
    const accepted = await api.command(
      '/v1/incidents',
      breachReport(sector, { occurredAt: at(4) }),
    );
    const [reported] = await api.events(accepted.incidentId);
    expect(reported.occurredAt).toBe(at(4));
  });

  it('answers an Idempotency-Key retry with the first body, appending nothing; another body → 422', async () => {
    const key = `report-${randomUUID()}`;
    const body = breachReport(freshSector());
    const first = await api.post<Created>('/v1/incidents', body, OPERATOR, {
      'idempotency-key': key,
    });
    expect(first.status).toBe(201);

    await expectNothingAppended(async () => {
      const retry = await api.post<Created>('/v1/incidents', body, OPERATOR, {
        'idempotency-key': key,
      });
      expect(retry.status).toBe(201);
      expect(retry.body).toEqual(first.body);
      expect(retry.headers.get('etag')).toBe(first.headers.get('etag'));

      const other = await api.post<Problem>(
        '/v1/incidents',
        { ...body, summary: 'another report' },
        OPERATOR,
        { 'idempotency-key': key },
      );
      expectProblem(other, 422);
      expect(other.body.code).toBe('idempotency-conflict');
    });
    expect(await api.eventsOfType(first.body.incidentId, 'BreachReported')).toHaveLength(1);
  });

  it('answers concurrent requests with one Idempotency-Key: the same body once (a duplicate in flight 409), another body 422', async () => {
    const sector = freshSector();
    const send = (key: string, summary: string) =>
      api.post<Created & Problem>('/v1/incidents', breachReport(sector, { summary }), OPERATOR, {
        'idempotency-key': key,
      });

    const [same, other] = [randomUUID(), randomUUID()];
    const [same1, same2] = await Promise.all([send(same, 'one'), send(same, 'one')]);
    const [first, second] = await Promise.all([send(other, 'one'), send(other, 'two')]);

    // The second either waited for the first's answer or came while it was in flight.
    const [done, duplicate] = same1.status === 201 ? [same1, same2] : [same2, same1];
    expect(done.status).toBe(201);
    if (duplicate.status === 201) expect(duplicate.body).toEqual(done.body);
    else {
      expectProblem(duplicate, 409);
      expect(duplicate.body.code).toBe('idempotency-in-flight');
    }
    expect([first.status, second.status].sort()).toEqual([201, 422]);
    const [winner, loser] = first.status === 201 ? [first, second] : [second, first];
    expect(loser.body.code).toBe('idempotency-conflict');
    await system.runtime.settle();
    const reports = await api.eventsOfType(winner.body.incidentId, 'BreachReported');
    expect(reports).toHaveLength(1);
    expect(reports[0].data.summary).toBe(winner === first ? 'one' : 'two');
  });

  it('refuses a stale If-Match with 412 and accepts the current one with 201 and the new revision as ETag', async () => {
    const id = await api.report(freshSector());
    await system.runtime.settle();
    const current = await api.get(`/v1/incidents/${id}`);
    const etag = current.headers.get('etag');
    const revision = Number(JSON.parse(etag ?? 'null'));
    expect(revision).toBeGreaterThan(0);
    const decision = { authority: 'UA NSC', decision: 'other', rationale: 'monitor' };

    await expectNothingAppended(async () => {
      const stale = await api.post<Problem>(`/v1/incidents/${id}/decisions`, decision, OPERATOR, {
        'if-match': `"${revision - 1}"`,
      });
      expectProblem(stale, 412);
    });
    const fresh = await api.post<Created>(`/v1/incidents/${id}/decisions`, decision, OPERATOR, {
      'if-match': etag ?? '',
    });

    expect(fresh.status).toBe(201);
    expect(fresh.body.revision).toBe(revision + 1);
    expect(fresh.headers.get('etag')).toBe(`"${revision + 1}"`);
    const events = await api.events(id);
    expect(events.at(-1)).toMatchObject({ id: fresh.body.eventId, revision: revision + 1 });
  });

  it('answers GET /v1/incidents/:id with an ETag and the body of SPEC §6', async () => {
    const sector = freshSector();
    const reportedAt = hoursAfter(await api.clockNow(), -2);
    const created = await api.command(
      '/v1/incidents',
      breachReport(sector, { occurredAt: reportedAt }),
    );
    const id = created.incidentId;
    const confirmed = await api.command(`/v1/incidents/${id}/verdict`, {
      verdict: 'confirmed',
      reason: 'video',
    });
    await system.runtime.settle();

    const response = await api.get<Json>(`/v1/incidents/${id}`, AUDITOR);

    expect(response.status).toBe(200);
    const view = response.body;
    expect(response.headers.get('etag')).toBe(`"${String(view.revision)}"`);
    expect(Object.keys(view).sort()).toEqual(
      [
        'incidentId',
        'status',
        'tier',
        'sector',
        'revision',
        'firstViolationAt',
        'exercise',
        'tierHistory',
        'obligations',
        'coalitionTasks',
      ].sort(),
    );
    const confirmedEvent = (await api.events(id)).find((e) => e.id === confirmed.eventId);
    expect(view).toEqual({
      incidentId: id,
      status: 'open',
      tier: 1,
      sector,
      revision: confirmed.revision,
      firstViolationAt: reportedAt,
      exercise: true,
      tierHistory: [
        {
          tier: 0,
          at: reportedAt,
          recordedAt: expect.any(String),
          causedBy: created.eventId,
          policyVersion: 1,
        },
        {
          tier: 1,
          at: confirmedEvent?.occurredAt,
          recordedAt: confirmedEvent?.recordedAt,
          causedBy: confirmed.eventId,
          policyVersion: 1,
        },
      ],
      obligations: [
        {
          kind: 'verification',
          dueAt: hoursAfter(reportedAt, 6),
          status: 'met',
          satisfiedAt: confirmedEvent?.occurredAt,
        },
        {
          kind: 'warning',
          dueAt: hoursAfter(confirmedEvent?.occurredAt ?? '', 24),
          status: 'open',
        },
      ],
      coalitionTasks: [],
    });
  });

  it('lists incidents filtered by tier, status and sector, paged by cursor', async () => {
    const sector = freshSector();
    const ids = [await api.report(sector), await api.report(sector), await api.report(sector)];
    await api.command(`/v1/incidents/${ids[1]}/verdict`, {
      verdict: 'confirmed',
      reason: 'video',
    });
    await api.report(freshSector());
    await system.runtime.settle();
    const list = async (query: string) =>
      expectStatus(
        await api.get<{ items: { incidentId: string }[]; nextCursor: string | null }>(
          `/v1/incidents?${query}`,
          AUDITOR,
        ),
        200,
      );
    const idsOf = async (query: string) =>
      (await list(query)).items.map((item) => item.incidentId).sort();

    expect(await idsOf(`sector=${sector}`)).toEqual([...ids].sort());
    expect(await idsOf(`sector=${sector}&tier=1`)).toEqual([ids[1]]);
    expect(await idsOf(`sector=${sector}&status=verifying`)).toEqual([ids[0], ids[2]].sort());
    expect(await idsOf(`sector=${sector}&tier=1&status=open`)).toEqual([ids[1]]);
    expect(await idsOf(`sector=${sector}&tier=2`)).toEqual([]);

    const paged: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { items: { incidentId: string }[]; nextCursor: string | null } = await list(
        `sector=${sector}&limit=1${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.items.length).toBeLessThanOrEqual(1);
      paged.push(...page.items.map((item) => item.incidentId));
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(paged).toHaveLength(3);
    expect([...paged].sort()).toEqual([...ids].sort());
  });

  it("answers the incident's stream with both times and the envelope of SPEC §4", async () => {
    const reportedAt = hoursAfter(await api.clockNow(), -1);
    const created = await api.command(
      '/v1/incidents',
      breachReport(freshSector(), { occurredAt: reportedAt }),
    );
    await system.runtime.settle();

    const events = await api.events(created.incidentId);

    expect(events.map((e) => e.type)).toEqual(['BreachReported', 'VerificationRequested']);
    expect(events.map((e) => e.revision)).toEqual([0, 1]);
    expect(events[1].position).toBeGreaterThan(events[0].position);
    expect(events[0]).toMatchObject({
      id: created.eventId,
      schemaVersion: 1,
      streamId: `incident-${created.incidentId}`,
      occurredAt: reportedAt,
      recordedAt: await api.clockNow(),
      metadata: {
        actor: { id: OPERATOR.sub, role: 'operator' },
        policyVersion: 1,
        exercise: true,
      },
    });
    // The service's reaction carries the occurredAt of the report it reacts to (SPEC §2).
    expect(events[1]).toMatchObject({
      occurredAt: reportedAt,
      data: { verifiers: ['UA', 'US', 'GB', 'FR'], dueAt: hoursAfter(reportedAt, 6) },
      metadata: { causationId: created.eventId, exercise: true },
    });
  });

  it('refuses findings of another partner or an unassigned verifier (403) and a second finding (409)', async () => {
    const id = await api.report(freshSector());
    await system.runtime.settle();
    const finding = (verifier: string) => ({
      verifier,
      finding: 'inconclusive',
      evidence: ['sat-img-1'],
    });
    const path = `/v1/incidents/${id}/findings`;

    await expectNothingAppended(async () => {
      const otherPartner = await api.post<Problem>(path, finding('UA'), verifierOf('US'));
      expectProblem(otherPartner, 403);
      const unassigned = await api.post<Problem>(path, finding('PL'), verifierOf('PL'));
      expectProblem(unassigned, 403);
    });
    await api.command(path, finding('UA'), verifierOf('UA'));
    await expectNothingAppended(async () => {
      const second = await api.post<Problem>(path, finding('UA'), verifierOf('UA'));
      expectProblem(second, 409);
      expect(second.body.reason).toBe('finding-already-submitted');
    });
  });

  it("refuses a ministry answering another member's task with 403; the member's own answer counts", async () => {
    const id = await confirmedIncident();
    await api.command(`/v1/incidents/${id}/hostilities`, { observation: 'shelling continues' });
    await system.runtime.settle();
    const task = (await api.incident(id)).coalitionTasks.find((t) => t.member === 'GB');
    if (!task) throw new Error('GB was not tasked at tier 2');
    const path = `/v1/incidents/${id}/coalition-tasks/${task.taskId}/acknowledge`;

    await expectNothingAppended(async () => {
      expectProblem(await api.post<Problem>(path, {}, ministryOf('FR')), 403);
    });
    await api.command(path, {}, ministryOf('GB'));
    await system.runtime.settle();

    const answered = (await api.incident(id)).coalitionTasks.find((t) => t.taskId === task.taskId);
    expect(answered?.status).toBe('acknowledged');
  });

  it('moves the exercise clock forward (200) and never back (409)', async () => {
    const now = await api.clockNow();

    const back = await api.post<Problem>('/v1/exercise/clock', { now: hoursAfter(now, -1) });
    expectProblem(back, 409);
    expect(await api.clockNow()).toBe(now);

    const forward = await api.post<{ now: string }>('/v1/exercise/clock', {
      now: hoursAfter(now, 0.5),
    });
    expect(forward.status).toBe(200);
    expect(forward.body.now).toBe(hoursAfter(now, 0.5));
    expect(await api.clockNow()).toBe(hoursAfter(now, 0.5));
  });

  it('answers health, metrics and the OpenAPI document without a token', async () => {
    expect((await api.call('GET', '/health/live', { as: null })).status).toBe(200);
    expect((await api.call('GET', '/health/ready', { as: null })).status).toBe(200);

    const metrics = await api.call<string>('GET', '/metrics', { as: null });
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/^http_requests_total\{[^}]*route="\/v1\/incidents"/m);

    const docs = await api.call<{ paths: Record<string, unknown> }>('GET', '/docs-json', {
      as: null,
    });
    expect(docs.status).toBe(200);
    expect(Object.keys(docs.body.paths)).toContain('/v1/incidents');
  });

  it('lets a service report a breach', async () => {
    const created = await api.command('/v1/incidents', breachReport(freshSector()), SERVICE);
    await system.runtime.settle();
    expect((await api.incident(created.incidentId)).status).toBe('verifying');
  });

  describe('with the system clock', () => {
    let systemLocation: StoreLocation;
    let systemClock: InProcessSystem;

    beforeAll(async () => {
      systemLocation = await store.create();
      systemClock = await startInProcessSystem({
        databaseUrl: systemLocation.databaseUrl,
        dataDir: systemLocation.dataDir,
        clock: 'system',
      });
    }, 60_000);
    afterAll(async () => {
      await systemClock?.close();
      await systemLocation?.drop();
    });

    it('has no exercise clock route (404)', async () => {
      const client = new TrucelineApi(systemClock.baseUrl, systemClock.jwtSecret);

      const move = await client.post<Problem>('/v1/exercise/clock', {
        now: new Date(Date.now() + 3_600_000).toISOString(),
      });

      expectProblem(move, 404);
      expect((await client.get('/v1/exercise/clock')).status).toBe(404);
      expect((await client.call('GET', '/health/ready', { as: null })).status).toBe(200);
    });
  });
});
