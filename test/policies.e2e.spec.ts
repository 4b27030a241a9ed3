import {
  evolveIncident,
  decodeIncidentFact,
  initialIncidentState,
  POLICY_ADOPTED,
  POLICY_STREAM,
  POLICY_V1,
  UnknownPolicyVersionError,
} from '@truceline/domain';
import { PolicyRegistry } from '@truceline/projections';
import { InProcessSystem, startInProcessSystem } from './support/in-process-system';
import {
  AUDITOR,
  breachReport,
  expectStatus,
  freshSector,
  hoursAfter,
  ministryOf,
  OPERATOR,
  Problem,
  TrucelineApi,
} from './support/truceline-api';

/**
 * SPEC §3: rules are data, adopted as versions. Version 2 is adopted mid-history through the
 * API; events before it stay folded under v1 and events after it under v2, and an obligation's
 * dueAt is fixed by the version of the event that opened it.
 */
const CLOCK_START = '2026-03-01T00:00:00.000Z';
const { version: _v1, ...V1_DOCUMENT } = POLICY_V1;
const V2_DOCUMENT = { ...V1_DOCUMENT, verificationWindowHours: 2, warningWindowHours: 12 };

interface AdoptedBody {
  version: number;
  adoptedAt: string;
  adoptedBy: { id: string; role: string };
  eventId: string;
  policy: { version: number; verificationWindowHours: number };
}

describe('escalation policy versions over the API', () => {
  let system: InProcessSystem;
  let api: TrucelineApi;

  beforeAll(async () => {
    system = await startInProcessSystem({ clockStart: CLOCK_START });
    api = new TrucelineApi(system.baseUrl, system.jwtSecret);
  }, 60_000);
  afterAll(() => system?.close());

  const dueOf = async (id: string, kind: string) =>
    (await api.incident(id)).obligations.find((o) => o.kind === kind)?.dueAt;

  it('adopts v2 mid-history: events before and after are folded under their own versions', async () => {
    const listed = expectStatus(
      await api.get<{ current: number; versions: AdoptedBody[] }>('/v1/policies', AUDITOR),
      200,
    );
    expect(listed.current).toBe(1);
    expect(listed.versions).toEqual([
      expect.objectContaining({
        version: 1,
        adoptedBy: { id: 'truceline', role: 'service' },
        policy: POLICY_V1,
      }),
    ]);

    const before = await api.report(freshSector('POLICY'));
    await api.command(`/v1/incidents/${before}/verdict`, { verdict: 'confirmed', reason: 'v1' });
    await api.advanceClock(hoursAfter(CLOCK_START, 1));

    const adopted = await api.post<AdoptedBody>('/v1/policies', V2_DOCUMENT, OPERATOR);
    expect(adopted.status).toBe(201);
    expect(adopted.body).toMatchObject({
      version: 2,
      adoptedAt: hoursAfter(CLOCK_START, 1),
      adoptedBy: { id: OPERATOR.sub, role: 'operator' },
      policy: { ...V2_DOCUMENT, version: 2 },
    });

    const after = await api.report(freshSector('POLICY'));
    // Opened under v1 (6 h, 24 h): unchanged by v2.
    expect(await dueOf(before, 'verification')).toBe(hoursAfter(CLOCK_START, 6));
    expect(await dueOf(before, 'warning')).toBe(hoursAfter(CLOCK_START, 24));
    // Opened under v2: 2 h from the report.
    expect(await dueOf(after, 'verification')).toBe(hoursAfter(CLOCK_START, 1 + 2));
    // A confirmation appended under v2 opens its warning under v2 (12 h).
    await api.command(`/v1/incidents/${after}/verdict`, { verdict: 'confirmed', reason: 'v2' });
    expect(await dueOf(after, 'warning')).toBe(hoursAfter(CLOCK_START, 1 + 12));

    const versionsOf = async (id: string) =>
      (await api.events(id)).map((e) => `${e.type}@v${String(e.metadata.policyVersion)}`);
    expect(await versionsOf(before)).toEqual(
      expect.arrayContaining(['BreachReported@v1', 'BreachConfirmed@v1']),
    );
    expect(await versionsOf(after)).toEqual(
      expect.arrayContaining(['BreachReported@v2', 'BreachConfirmed@v2']),
    );
    expect(
      (await api.incident(after)).tierHistory.map((t) => `${t.tier}@v${t.policyVersion}`),
    ).toEqual(['0@v2', '1@v2']);

    const relisted = expectStatus(
      await api.get<{ current: number; versions: AdoptedBody[] }>('/v1/policies'),
      200,
    );
    expect(relisted.current).toBe(2);
    expect(relisted.versions.map((v) => v.version)).toEqual([1, 2]);

    // SPEC §4: the event holds the assigned version and the submitted document.
    const adoptions = await system.runtime.store.readStream(POLICY_STREAM);
    expect(adoptions.map((e) => [e.type, e.data])).toEqual([
      [POLICY_ADOPTED, { version: 1, policy: V1_DOCUMENT }],
      [POLICY_ADOPTED, { version: 2, policy: V2_DOCUMENT }],
    ]);
  });

  it('refuses a bad document with 400 naming each bad field, adopting nothing', async () => {
    const head = await system.runtime.store.headPosition();
    const response = await api.post<Problem>('/v1/policies', {
      ...V1_DOCUMENT,
      verificationWindowHours: 0,
      verificationQuorum: 9,
      verifierRoster: ['UA', 'UK'],
      coalitionRoster: [{ member: 'GB', capabilities: ['cyber'] }],
      version: 3,
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(new Set(response.body.errors?.map((e) => e.field))).toEqual(
      new Set([
        'verificationWindowHours',
        'verificationQuorum',
        'verifierRoster',
        'coalitionRoster.0.capabilities',
        'version',
      ]),
    );
    expect(await system.runtime.store.headPosition()).toBe(head);
  });

  it('lets only operators adopt, and operators and auditors list', async () => {
    expect((await api.post('/v1/policies', V2_DOCUMENT, AUDITOR)).status).toBe(403);
    expect((await api.get('/v1/policies', ministryOf('PL'))).status).toBe(403);
    expect((await api.call('GET', '/v1/policies', { as: null })).status).toBe(401);
  });

  it('gives concurrent adoptions distinct versions, seen by every registry on the store', async () => {
    const other = new PolicyRegistry(system.runtime.store);
    await other.load();
    const actor = { id: 'e2e-operator', role: 'operator' as const };
    const occurredAt = await api.clockNow();
    const [a, b] = await Promise.all([
      other.adopt(V2_DOCUMENT, { actor, occurredAt }),
      api.post<AdoptedBody>('/v1/policies', V2_DOCUMENT),
    ]);
    expect([a.version, b.body.version].sort()).toEqual([3, 4]);
    await other.refresh();
    expect(other.current().version).toBe(4);
  });

  it('adopts once per Idempotency-Key: a retry gets the first answer, another body 422', async () => {
    const before = await system.runtime.store.headPosition();
    const key = { 'Idempotency-Key': 'adopt-tighter-warning' };
    const document = { ...V1_DOCUMENT, warningWindowHours: 6 };

    const first = await api.post<AdoptedBody>('/v1/policies', document, OPERATOR, key);
    const retry = await api.post<AdoptedBody>('/v1/policies', document, OPERATOR, key);

    expect(first.status).toBe(201);
    expect(retry.status).toBe(201);
    expect(retry.body).toEqual(first.body);
    expect(await system.runtime.store.headPosition()).toBe(before + 1);
    const other = await api.post<Problem>('/v1/policies', V2_DOCUMENT, OPERATOR, key);
    expect(other.status).toBe(422);
    // A key is one request whatever the route: an incident command cannot reuse it.
    const reused = await api.post<Problem>(
      '/v1/incidents',
      breachReport(freshSector('POLICY')),
      OPERATOR,
      key,
    );
    expect(reused.status).toBe(422);
    expect(await system.runtime.store.headPosition()).toBe(before + 1);
  });

  it('fails loudly on an event naming a version the registry does not hold', async () => {
    const registry = new PolicyRegistry(system.runtime.store);
    await registry.load();
    expect(() => registry.of(99)).toThrow(UnknownPolicyVersionError);
    const id = await api.report(freshSector('POLICY'));
    const [report] = await api.events(id);
    const forged = decodeIncidentFact({
      ...report,
      metadata: { ...report.metadata, policyVersion: 99 },
    });
    if (!forged) throw new Error('the report did not decode');
    expect(() => evolveIncident(initialIncidentState(), forged, registry.of)).toThrow(
      'escalation policy version 99 is not adopted',
    );
  });

  it('reads an adoption stored in the flat shape of older logs as the same policy', async () => {
    const registry = new PolicyRegistry(system.runtime.store);
    await registry.load();
    const version = registry.current().version + 1;
    const [last] = (await system.runtime.store.readStream(POLICY_STREAM)).slice(-1);
    const id = '0b6f1c52-8d3e-4a71-9c2e-5f4d3b2a1c0e';
    await system.runtime.store.append(
      POLICY_STREAM,
      [
        {
          id,
          type: POLICY_ADOPTED,
          occurredAt: await api.clockNow(),
          data: { version, ...V2_DOCUMENT, warningWindowHours: 3 },
          metadata: {
            correlationId: id,
            causationId: null,
            actor: { id: 'e2e-operator', role: 'operator' },
            policyVersion: version,
          },
        },
      ],
      { expectedRevision: last!.revision },
    );

    await registry.refresh();
    expect(registry.of(version)).toEqual({ ...V2_DOCUMENT, warningWindowHours: 3, version });
    const listed = expectStatus(
      await api.get<{ current: number; versions: AdoptedBody[] }>('/v1/policies'),
      200,
    );
    expect(listed.versions.at(-1)?.policy).toEqual({
      ...V2_DOCUMENT,
      warningWindowHours: 3,
      version,
    });
  });
});
