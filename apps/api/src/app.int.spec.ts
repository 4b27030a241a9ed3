import { INestApplication } from '@nestjs/common';
import { loadConfig, signToken, TrucelineConfig } from '@truceline/config';
import {
  ConcurrencyError,
  IllegalStateError,
  IncidentCommand,
  POLICY_V1,
  StoredEvent,
  TrucelineError,
} from '@truceline/domain';
import type { EventStore } from '@truceline/event-store';
import {
  buildIncidentAudit,
  type IncidentListFilter,
  type IncidentPage,
  type IncidentView,
} from '@truceline/projections';
import type {
  Clock,
  CommandContext,
  CommandResult,
  DependencyHealth,
  IncidentCommands,
  IncidentQueries,
  PolicyPort,
  Runtime,
} from '@truceline/workflows';
import { sign } from 'jsonwebtoken';
import { createApp } from './app';

const SECRET = 'an-int-test-secret-long-enough-for-hs256';
const INCIDENT = '7d0c6a2e-4b1f-4c3e-9a51-1f2e3d4c5b6a';
const NEW_INCIDENT = '0b9d2f7c-1111-4e2a-8c3d-5e6f7a8b9c0d';

class ExerciseClock implements Clock {
  constructor(
    readonly mode: 'system' | 'exercise',
    private current = new Date('2025-06-01T08:00:00Z'),
  ) {}
  now(): Date {
    return this.current;
  }
  async advance(to: Date): Promise<Date> {
    if (to < this.current)
      throw new IllegalStateError('clock-backwards', 'the clock only moves on');
    this.current = to;
    return to;
  }
}

/** Records what the edge hands over; the real runtime is tested end to end elsewhere. */
class RecordingRuntime implements Runtime {
  readonly executed: {
    incidentId: string | null;
    command: IncidentCommand;
    context: CommandContext;
  }[] = [];
  readonly listed: IncidentListFilter[] = [];
  readonly views = new Map<string, IncidentView>();
  readonly streams = new Map<string, StoredEvent[]>();
  failure: TrucelineError | null = null;
  ready = true;
  readonly clock: ExerciseClock;
  readonly store = new Proxy({} as EventStore, {
    get: () => {
      throw new Error('the HTTP edge does not use the store');
    },
  });

  constructor(mode: 'system' | 'exercise') {
    this.clock = new ExerciseClock(mode);
  }

  readonly policies: PolicyPort = {
    list: async () => [],
    adopt: () => Promise.reject(new Error('policies are tested in policies.http.int.spec.ts')),
  };

  readonly commands: IncidentCommands = {
    execute: async (incidentId, command, context): Promise<CommandResult> => {
      this.executed.push({ incidentId, command, context });
      if (this.failure) throw this.failure;
      return { incidentId: incidentId ?? NEW_INCIDENT, eventId: 'e-1', revision: 4, position: 17 };
    },
  };

  readonly queries: IncidentQueries = {
    get: async (id) => this.views.get(id) ?? null,
    list: async (filter): Promise<IncidentPage> => {
      this.listed.push(filter);
      return { items: [], nextCursor: null };
    },
    events: async (id) => this.streams.get(id) ?? null,
    audit: async (id, { asOf, viewer }) =>
      buildIncidentAudit(this.streams.get(id) ?? [], {
        asOf: asOf ?? this.clock.now(),
        policyOf: () => POLICY_V1,
        viewer,
      }),
  };

  async health(): Promise<DependencyHealth> {
    return {
      database: { status: 'up' },
      projections: this.ready ? { status: 'up' } : { status: 'down', message: 'catching up' },
    };
  }
  async close(): Promise<void> {}
}

const view = (overrides: Partial<IncidentView> = {}): IncidentView => ({
  incidentId: INCIDENT,
  status: 'open',
  tier: 2,
  sector: 'S-7',
  revision: 9,
  firstViolationAt: '2025-06-01T06:00:00.000Z',
  exercise: false,
  tierHistory: [],
  obligations: [],
  coalitionTasks: [
    { taskId: 't-gb', tier: 2, member: 'GB', capability: 'land', dueAt: 'x', status: 'assigned' },
    { taskId: 't-pl', tier: 2, member: 'PL', capability: 'land', dueAt: 'x', status: 'assigned' },
  ],
  ...overrides,
});

const report = (overrides: Record<string, unknown> = {}) => ({
  location: { sector: 'S-7', frontlineKm: 512.5, lat: 47.6, lon: 35.9 },
  category: 'artillery',
  severity: 'major',
  source: { kind: 'sensor', id: 'sensor-0412' },
  summary: 'Shelling near the line of contact',
  ...overrides,
});

interface Problem {
  status: number;
  code: string;
  detail: string;
  reason?: string;
  errors?: { field: string; message: string }[];
}
const problemOf = (response: Response) => response.json() as Promise<Problem>;

const operator = signToken(SECRET, { sub: 'ops-1', role: 'operator' });
const auditor = signToken(SECRET, { sub: 'audit-1', role: 'auditor' });
const ministry = (partner: string) =>
  signToken(SECRET, { sub: `min-${partner}`, role: 'ministry', partner });

describe(createApp.name, () => {
  let runtime: RecordingRuntime;
  let sut: INestApplication;
  let base: string;

  const start = async (mode: 'system' | 'exercise' = 'system') => {
    runtime = new RecordingRuntime(mode);
    const config: TrucelineConfig = loadConfig({
      TRUCELINE_JWT_SECRET: SECRET,
      TRUCELINE_CLOCK: mode,
      LOG_LEVEL: 'error',
    });
    sut = await createApp(runtime, config);
    await sut.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(sut.getHttpServer().address() as { port: number }).port}`;
  };

  const call = (
    method: string,
    path: string,
    {
      token,
      body,
      headers = {},
    }: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ) =>
    fetch(`${base}${path}`, {
      method,
      headers: {
        ...(token && { authorization: `Bearer ${token}` }),
        ...(body !== undefined && { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });

  afterEach(async () => {
    await sut?.close();
  });

  describe('authentication', () => {
    beforeEach(() => start());

    it('answers 401 problem+json without a token', async () => {
      const response = await call('POST', '/v1/incidents', { body: report() });

      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
      expect(await response.json()).toMatchObject({ status: 401, code: 'unauthorized' });
      expect(runtime.executed).toEqual([]);
    });

    it('answers 401 for a token signed with another key', async () => {
      const forged = signToken('another-secret-of-sufficient-length!!', {
        sub: 'x',
        role: 'operator',
      });

      const response = await call('GET', '/v1/incidents', { token: forged });

      expect(response.status).toBe(401);
    });

    it('answers 401 for a verifier token without a partner', async () => {
      const token = sign({ sub: 'v', role: 'verifier' }, SECRET, { expiresIn: 60 });

      const response = await call('POST', '/v1/incidents', { token, body: report() });

      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ detail: expect.stringMatching(/partner/) });
    });

    it('answers 403 for a role the route does not allow', async () => {
      const response = await call('POST', '/v1/incidents', { token: auditor, body: report() });

      expect(response.status).toBe(403);
      expect(await response.json()).toMatchObject({ code: 'forbidden', reason: 'role' });
      expect(runtime.executed).toEqual([]);
    });
  });

  describe('validation', () => {
    beforeEach(() => start());

    it('names every bad field at once and passes nothing on', async () => {
      const { source: _source, ...withoutSource } = report();
      const body = {
        ...withoutSource,
        location: { sector: 'S-7', frontlineKm: 5000 },
        foo: 'bar',
      };

      const response = await call('POST', '/v1/incidents', { token: operator, body });

      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const problem = await problemOf(response);
      expect(problem).toMatchObject({ status: 400, code: 'validation', title: 'Invalid request' });
      expect(problem.errors).toEqual(
        expect.arrayContaining([
          { field: 'location.frontlineKm', message: expect.stringContaining('1400') },
          { field: 'source', message: 'source is required' },
          { field: 'foo', message: 'property foo should not exist' },
        ]),
      );
      expect(problem.errors).toHaveLength(3);
      expect(runtime.executed).toEqual([]);
    });

    it('refuses an id that is not a UUID', async () => {
      const response = await call('POST', '/v1/incidents/42/hostilities', {
        token: operator,
        body: { observation: 'still shelling' },
      });

      expect(response.status).toBe(400);
      expect((await problemOf(response)).errors).toEqual([
        { field: 'id', message: 'id must be a UUID' },
      ]);
      expect(runtime.executed).toEqual([]);
    });

    it('refuses a Western response without a US element', async () => {
      const response = await call('POST', `/v1/incidents/${INCIDENT}/western-response`, {
        token: operator,
        body: { elements: ['GB air', 'FR air'], reference: 'OPORD-1' },
      });

      expect(response.status).toBe(400);
      expect((await problemOf(response)).errors).toEqual([
        { field: 'elements', message: expect.stringContaining('US element') },
      ]);
    });

    it('answers 400 for malformed JSON and 413 for a body over the limit', async () => {
      const malformed = await call('POST', '/v1/incidents', { token: operator, body: '{"a":' });
      const large = await call('POST', '/v1/incidents', {
        token: operator,
        body: report({ summary: 'x'.repeat(70_000) }),
      });

      expect(malformed.status).toBe(400);
      expect(malformed.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(large.status).toBe(413);
      expect(await large.json()).toMatchObject({ status: 413, code: 'payload-too-large' });
      expect(runtime.executed).toEqual([]);
    });

    it('refuses a malformed If-Match', async () => {
      const response = await call('POST', `/v1/incidents/${INCIDENT}/hostilities`, {
        token: operator,
        body: { observation: 'still shelling' },
        headers: { 'if-match': 'three' },
      });

      expect(response.status).toBe(400);
      expect((await problemOf(response)).errors).toEqual([
        { field: 'If-Match', message: expect.any(String) },
      ]);
      expect(runtime.executed).toEqual([]);
    });
  });

  describe('commands', () => {
    beforeEach(() => start());

    it('hands a report to the runtime and answers 201 with an ETag', async () => {
      const response = await call('POST', '/v1/incidents', {
        token: signToken(SECRET, { sub: 'v-us', role: 'verifier', partner: 'US' }),
        body: report({ occurredAt: '2025-06-01T07:59:00+01:00' }),
        headers: { 'idempotency-key': 'report-1', 'x-correlation-id': 'corr-9' },
      });

      expect(response.status).toBe(201);
      expect(response.headers.get('etag')).toBe('"4"');
      expect(await response.json()).toEqual({
        incidentId: NEW_INCIDENT,
        eventId: 'e-1',
        revision: 4,
        position: 17,
      });
      expect(runtime.executed).toEqual([
        {
          incidentId: null,
          command: { type: 'ReportBreach', data: report() },
          context: {
            actor: { id: 'v-us', role: 'verifier', partner: 'US' },
            idempotencyKey: 'report-1',
            correlationId: 'corr-9',
            occurredAt: '2025-06-01T07:59:00+01:00',
          },
        },
      ]);
    });

    it.each([
      ['"3"', 3],
      ['W/"3"', 3],
      ['3', 3],
    ])('passes If-Match %s on as expectedRevision %d', async (ifMatch, expected) => {
      await call('POST', `/v1/incidents/${INCIDENT}/hostilities`, {
        token: operator,
        body: { observation: 'still shelling' },
        headers: { 'if-match': ifMatch },
      });

      expect(runtime.executed[0].context.expectedRevision).toBe(expected);
      expect(runtime.executed[0].incidentId).toBe(INCIDENT);
    });

    it('turns a task answer into AnswerTask with the task id', async () => {
      const response = await call(
        'POST',
        `/v1/incidents/${INCIDENT}/coalition-tasks/t-gb/decline`,
        { token: ministry('GB'), body: {} },
      );

      expect(response.status).toBe(201);
      expect(runtime.executed[0].command).toEqual({
        type: 'AnswerTask',
        data: { taskId: 't-gb', answer: 'decline' },
      });
      expect(runtime.executed[0].context.actor).toEqual({
        id: 'min-GB',
        role: 'ministry',
        partner: 'GB',
      });
    });

    it.each([
      [new IllegalStateError('not-confirmed', 'not confirmed yet'), 409, 'illegal-state'],
      [new ConcurrencyError(`incident-${INCIDENT}`, 3, 5), 412, 'concurrency'],
      [new TrucelineError('idempotency-conflict', 'key reused'), 422, 'idempotency-conflict'],
    ])('maps %p to %d', async (failure, status, code) => {
      runtime.failure = failure;

      const response = await call('POST', `/v1/incidents/${INCIDENT}/hostilities`, {
        token: operator,
        body: { observation: 'still shelling' },
      });

      expect(response.status).toBe(status);
      expect(await response.json()).toMatchObject({ status, code });
    });

    it('lets every command route through, with its roles', async () => {
      const verifier = signToken(SECRET, { sub: 'v-gb', role: 'verifier', partner: 'GB' });
      const routes: [string, string, unknown, string][] = [
        [
          'findings',
          verifier,
          { verifier: 'GB', finding: 'confirmed', evidence: [] },
          'SubmitFinding',
        ],
        ['verdict', operator, { verdict: 'confirmed', reason: 'imagery' }, 'OverrideVerdict'],
        [
          'warnings',
          operator,
          { channel: 'OSCE', recipient: 'RU', reference: 'n-1' },
          'RecordWarning',
        ],
        [
          'response-actions',
          operator,
          { actor: 'UA 65', action: 'halted' },
          'ReportResponseAction',
        ],
        ['hostilities', verifier, { observation: 'still' }, 'ReportHostilities'],
        ['assessments', operator, { scale: 'large-scale', assessor: 'JFC' }, 'AssessEscalation'],
        [
          'decisions',
          operator,
          { authority: 'NSC', decision: 'other', rationale: 'r' },
          'RecordDecision',
        ],
        [
          'western-response',
          operator,
          { elements: ['US air'], reference: 'o-1' },
          'ActivateWesternResponse',
        ],
        ['resolution', operator, { resolution: 'ceased' }, 'ResolveIncident'],
      ];

      for (const [path, token, body] of routes) {
        const response = await call('POST', `/v1/incidents/${INCIDENT}/${path}`, { token, body });
        expect([path, response.status]).toEqual([path, 201]);
      }

      expect(runtime.executed.map((e) => e.command.type)).toEqual(routes.map((r) => r[3]));
      expect(runtime.executed[0].command.data).toEqual(routes[0][2]);
    });
  });

  describe('queries', () => {
    beforeEach(() => start());

    it('answers the incident view with its revision as ETag', async () => {
      runtime.views.set(INCIDENT, view());

      const response = await call('GET', `/v1/incidents/${INCIDENT}`, { token: auditor });

      expect(response.status).toBe(200);
      expect(response.headers.get('etag')).toBe('"9"');
      expect(await response.json()).toEqual(view());
    });

    it('answers a conditional GET of the revision the client holds with 304 and no body', async () => {
      runtime.views.set(INCIDENT, view());
      // fetch adds `Cache-Control: no-cache` to a request with If-None-Match unless told otherwise.
      const get = (ifNoneMatch: string, headers: Record<string, string> = {}) =>
        call('GET', `/v1/incidents/${INCIDENT}`, {
          token: auditor,
          headers: { 'if-none-match': ifNoneMatch, 'cache-control': 'max-age=0', ...headers },
        });

      const held = await get('"9"');
      const weak = await get('"3", W/"9"');
      const stale = await get('"8"');
      const uncached = await get('"9"', { 'cache-control': 'no-cache' });

      expect(held.status).toBe(304);
      expect(held.headers.get('etag')).toBe('"9"');
      expect(await held.text()).toBe('');
      expect(weak.status).toBe(304);
      expect(stale.status).toBe(200);
      expect(await stale.json()).toEqual(view());
      expect(uncached.status).toBe(200);
    });

    it('answers 404 for an unknown incident', async () => {
      const response = await call('GET', `/v1/incidents/${INCIDENT}`, { token: operator });
      const events = await call('GET', `/v1/incidents/${INCIDENT}/events`, { token: operator });

      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({ code: 'not-found' });
      expect(events.status).toBe(404);
    });

    it("shows a ministry only its own partner's coalition tasks, UA and US all", async () => {
      runtime.views.set(INCIDENT, view());

      const viewFor = async (partner: string) =>
        (await (
          await call('GET', `/v1/incidents/${INCIDENT}`, { token: ministry(partner) })
        ).json()) as IncidentView;

      const gb = await viewFor('GB');
      const ua = await viewFor('UA');

      expect(gb.coalitionTasks.map((t) => t.member)).toEqual(['GB']);
      expect(ua.coalitionTasks).toHaveLength(2);
    });

    it('validates and passes the list filter on', async () => {
      const ok = await call('GET', '/v1/incidents?tier=2&status=open&limit=10', {
        token: operator,
      });
      const bad = await call('GET', '/v1/incidents?tier=9&colour=red', { token: operator });

      expect(ok.status).toBe(200);
      expect(runtime.listed).toEqual([{ tier: 2, status: 'open', limit: 10 }]);
      expect(bad.status).toBe(400);
      expect((await problemOf(bad)).errors?.map((e) => e.field).sort()).toEqual(['colour', 'tier']);
    });

    it('answers the stream of an incident', async () => {
      runtime.streams.set(INCIDENT, []);

      const response = await call('GET', `/v1/incidents/${INCIDENT}/events`, { token: auditor });

      expect(await response.json()).toEqual({ incidentId: INCIDENT, events: [] });
    });
  });

  describe('audit', () => {
    beforeEach(() => start());

    const event = (
      revision: number,
      type: string,
      data: Record<string, unknown>,
      occurredAt: string,
      recordedAt = occurredAt,
    ): StoredEvent => ({
      id: `00000000-0000-4000-8000-00000000000${revision}`,
      type,
      schemaVersion: 1,
      streamId: `incident-${INCIDENT}`,
      revision,
      position: 40 + revision,
      occurredAt,
      recordedAt,
      data,
      metadata: {
        correlationId: 'c',
        causationId: null,
        actor: { id: 'desk-7', role: 'operator' },
        policyVersion: 1,
      },
    });
    const reportedAt = '2025-06-01T06:00:00.000Z';
    const story = () => [
      event(0, 'BreachReported', report(), reportedAt),
      event(
        1,
        'VerificationRequested',
        { verifiers: ['US'], dueAt: '2025-06-01T12:00:00.000Z' },
        reportedAt,
      ),
      event(
        2,
        'BreachConfirmed',
        { basis: 'override', reason: 'imagery' },
        '2025-06-01T07:00:00.000Z',
      ),
    ];
    const audit = (query: string, token: string) =>
      call('GET', `/v1/incidents/${INCIDENT}/audit${query}`, { token });

    it('answers the trail as of the clock, or as of asOf on the recordedAt clock', async () => {
      runtime.streams.set(INCIDENT, story());

      const now = await audit('', auditor);
      const before = await audit('?asOf=2025-06-01T06:30:00%2B00:00', operator);

      expect(now.status).toBe(200);
      expect(await now.json()).toMatchObject({
        incidentId: INCIDENT,
        asOf: '2025-06-01T08:00:00.000Z',
        knownAt: { tier: 1, status: 'open' },
        tierChanges: [{ tier: 0 }, { tier: 1, rule: '1 after BreachConfirmed' }],
      });
      expect(await before.json()).toMatchObject({
        asOf: '2025-06-01T06:30:00.000Z',
        knownAt: { tier: 0, status: 'verifying', revision: 1 },
      });
    });

    it('refuses an unparsable asOf with 400 naming it', async () => {
      runtime.streams.set(INCIDENT, story());

      for (const query of [
        '?asOf=yesterday',
        '?asOf=2025-13-01T00:00:00Z',
        '?asOf=',
        '?asOf=1&asOf=2',
      ]) {
        const response = await audit(query, auditor);
        expect(response.status).toBe(400);
        expect((await problemOf(response)).errors?.map((e) => e.field)).toEqual(['asOf']);
      }
      expect((await audit('?as_of=2025-06-01T06:30:00Z', auditor)).status).toBe(400);
    });

    it('answers 404 for an unknown incident and for one not yet recorded at asOf', async () => {
      runtime.streams.set(INCIDENT, story());

      const unknown = await call('GET', `/v1/incidents/${NEW_INCIDENT}/audit`, { token: auditor });
      const early = await audit('?asOf=2025-06-01T05:00:00Z', auditor);

      expect(unknown.status).toBe(404);
      expect(await problemOf(unknown)).toMatchObject({ code: 'not-found' });
      expect(early.status).toBe(404);
    });

    it('shows a ministry what its feed releases, and 404 (not 403) for what it may not see', async () => {
      runtime.streams.set(INCIDENT, story());
      runtime.streams.set(NEW_INCIDENT, [story()[1]]);

      const gb = await audit('', ministry('GB'));
      const gbTrail = (await gb.json()) as { timeline: { type: string; actor: object }[] };
      const hidden = await call('GET', `/v1/incidents/${NEW_INCIDENT}/audit`, {
        token: ministry('GB'),
      });
      const us = await call('GET', `/v1/incidents/${NEW_INCIDENT}/audit`, {
        token: ministry('US'),
      });

      expect(gb.status).toBe(200);
      expect(gbTrail.timeline.map((e) => e.type)).toEqual(['BreachReported', 'BreachConfirmed']);
      expect(gbTrail.timeline[0].actor).toEqual({ role: 'operator' });
      expect(JSON.stringify(gbTrail)).not.toContain('sensor-0412');
      expect(hidden.status).toBe(404);
      expect(us.status).toBe(200);
    });

    it('is documented exactly: the asOf parameter, the body schema, every error', async () => {
      type Schema = {
        $ref?: string;
        properties?: Record<string, Schema>;
        required?: string[];
        items?: Schema;
        format?: string;
        type?: string;
        enum?: unknown[];
      };
      const document = (await (await call('GET', '/docs-json')).json()) as {
        paths: Record<
          string,
          {
            get: {
              parameters: { name: string; in: string; required: boolean; schema: Schema }[];
              responses: Record<string, { content: Record<string, { schema: Schema }> }>;
            };
          }
        >;
        components: { schemas: Record<string, Schema> };
      };
      const route = document.paths['/v1/incidents/{id}/audit'].get;
      const schema = (ref: string | undefined) =>
        document.components.schemas[(ref ?? '').replace('#/components/schemas/', '')];

      expect(route.parameters).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ name: 'id', in: 'path', required: true }),
          expect.objectContaining({
            name: 'asOf',
            in: 'query',
            required: false,
            schema: expect.objectContaining({ type: 'string', format: 'date-time' }),
          }),
        ]),
      );
      expect(Object.keys(route.responses).sort()).toEqual(['200', '400', '401', '403', '404']);
      for (const status of ['400', '401', '403', '404'])
        expect(route.responses[status].content).toHaveProperty('application/problem+json');
      const body = schema(route.responses['200'].content['application/json'].schema.$ref);
      expect(body.required?.sort()).toEqual([
        'asOf',
        'decisions',
        'exercise',
        'incidentId',
        'knownAt',
        'notifications',
        'obligations',
        'tierChanges',
        'timeline',
      ]);
      const obligation = schema(body.properties?.obligations.items?.$ref);
      expect(Object.keys(obligation.properties ?? {})).toEqual(
        expect.arrayContaining([
          'kind',
          'dueAt',
          'status',
          'satisfiedBy',
          'missed',
          'policyVersion',
        ]),
      );
      const timeline = schema(body.properties?.timeline.items?.$ref);
      expect(timeline.required).toEqual(
        expect.arrayContaining([
          'eventId',
          'type',
          'occurredAt',
          'recordedAt',
          'recordedLate',
          'actor',
          'policyVersion',
          'summary',
        ]),
      );
    });

    it('is not for verifiers', async () => {
      runtime.streams.set(INCIDENT, story());
      const verifier = signToken(SECRET, { sub: 'v', role: 'verifier', partner: 'US' });

      expect((await audit('', verifier)).status).toBe(403);
    });
  });

  describe('exercise clock', () => {
    it('does not exist with the system clock', async () => {
      await start('system');

      const get = await call('GET', '/v1/exercise/clock', { token: operator });
      const post = await call('POST', '/v1/exercise/clock', {
        token: operator,
        body: { now: '2025-06-02T00:00:00Z' },
      });

      expect([get.status, post.status]).toEqual([404, 404]);
    });

    it('moves forward in exercise mode, and refuses to move back', async () => {
      await start('exercise');

      const forward = await call('POST', '/v1/exercise/clock', {
        token: operator,
        body: { now: '2025-06-02T00:00:00Z' },
      });
      const back = await call('POST', '/v1/exercise/clock', {
        token: operator,
        body: { now: '2025-06-01T00:00:00Z' },
      });
      const read = await call('GET', '/v1/exercise/clock', { token: ministry('PL') });

      expect(forward.status).toBe(200);
      expect(await forward.json()).toEqual({ now: '2025-06-02T00:00:00.000Z', mode: 'exercise' });
      expect(back.status).toBe(409);
      expect(await back.json()).toMatchObject({ reason: 'clock-backwards' });
      expect(await read.json()).toEqual({ now: '2025-06-02T00:00:00.000Z', mode: 'exercise' });
    });
  });

  describe('operations', () => {
    beforeEach(() => start());

    it('answers liveness always and readiness from the runtime', async () => {
      runtime.ready = false;

      const live = await call('GET', '/health/live');
      const notReady = await call('GET', '/health/ready');
      runtime.ready = true;
      const ready = await call('GET', '/health/ready');

      expect(live.status).toBe(200);
      expect(notReady.status).toBe(503);
      expect(await notReady.json()).toEqual({
        status: 'error',
        info: { database: { status: 'up' } },
        error: { projections: { status: 'down', message: 'catching up' } },
        details: {
          database: { status: 'up' },
          projections: { status: 'down', message: 'catching up' },
        },
      });
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'ok', error: {} });
    });

    it('exposes Prometheus metrics by route template', async () => {
      await call('GET', `/v1/incidents/${INCIDENT}`, { token: operator });

      const response = await call('GET', '/metrics');
      const text = await response.text();

      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(text).toContain('process_cpu_user_seconds_total');
      expect(text).toMatch(
        /http_requests_total\{method="GET",route="\/v1\/incidents\/:id",status="404"\} 1/,
      );
    });

    it('counts a request whose URL cannot be routed, answered before any hook', async () => {
      const unroutable = await call('GET', '/v1/incidents/%E0%A4%A', { token: operator });
      expect(unroutable.status).toBe(400);

      const text = await (await call('GET', '/metrics')).text();
      expect(text).toMatch(/http_requests_total\{method="GET",route="unmatched",status="400"\} 1/);
    });

    it('serves the OpenAPI document with every path', async () => {
      const document = (await (await call('GET', '/docs-json')).json()) as {
        info: unknown;
        paths: Record<string, unknown>;
        components: { securitySchemes: unknown };
      };

      expect(document.info).toMatchObject({ title: 'Truceline API', version: '1' });
      expect(Object.keys(document.paths)).toEqual(
        expect.arrayContaining([
          '/v1/incidents',
          '/v1/incidents/{id}',
          '/v1/incidents/{id}/findings',
          '/v1/incidents/{id}/coalition-tasks/{taskId}/acknowledge',
          '/v1/incidents/{id}/western-response',
          '/health/ready',
        ]),
      );
      expect(document.components.securitySchemes).toHaveProperty('bearer');
      expect((await call('GET', '/docs')).status).toBe(200);
    });

    it('answers unknown routes with a problem, without x-powered-by', async () => {
      const response = await call('GET', '/nowhere');

      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(response.headers.get('x-powered-by')).toBeNull();
    });
  });
});
