import {
  Capability,
  EscalationPolicy,
  EscalationPolicyDocument,
  incidentStreamId,
  POLICY_V1,
  PolicyLookup,
  StoredEvent,
} from '@truceline/domain';
import { deterministicId } from '@truceline/event-store';
import {
  assessed,
  breachData,
  deadlineMissed,
  decisionRecorded,
  fact,
  FactDraft,
  findingBy,
  h,
  hostilitiesPersisted,
  INCIDENT_ID,
  reported,
  resolved,
  stream,
  taskAnswered,
  taskAssigned,
  verificationRequested,
  warningIssued,
  westernResponseActivated,
} from '@truceline/testing';
import { diffWhatIf, tierDiffers, WhatIfReport } from './what-if.diff';
import { WhatIfFold } from './what-if.fold';

/**
 * The what-if fold on logs written as the live system writes them: the services' reactions
 * carry the ids the live services derive, DeadlineMissed is recorded when a deadline passed.
 */
const { version: _version, ...V1_DOCUMENT } = POLICY_V1;
const livePolicyOf: PolicyLookup = (version) => {
  if (version !== 1) throw new Error(`no policy v${version} in this spec`);
  return POLICY_V1;
};

/** The stream of `incidentId` as the store hands it out, positions from `firstPosition`. */
function storedStream(incidentId: string, drafts: FactDraft[], firstPosition = 1): StoredEvent[] {
  return stream(...drafts).map((f, i) => ({
    ...f,
    streamId: incidentStreamId(incidentId),
    schemaVersion: 1,
    position: firstPosition + i,
    metadata: {
      correlationId: 'c',
      causationId: null,
      actor: { id: 'someone', role: 'operator' as const },
      policyVersion: f.metadata.policyVersion,
      exercise: true,
    },
  }));
}

const taskId = (incidentId: string, tier: 2 | 3, member: string, capability: Capability) =>
  deterministicId(incidentId, 'task', String(tier), member, capability);

/** The tasks v1 assigns at `tier`, reached at hour `at`, as the coalition-tasking service does. */
const tasksOf = (incidentId: string, tier: 2 | 3, at: number): FactDraft[] =>
  (tier === 2 ? POLICY_V1.coalitionRoster : POLICY_V1.westernForceRoster).flatMap(
    ({ member, capabilities }) =>
      capabilities.map((capability) => {
        const id = taskId(incidentId, tier, member, capability);
        return taskAssigned(
          { taskId: id, member, capability, tier, dueAt: h(at + 12) },
          { id: deterministicId(id, 'assigned'), occurredAt: h(at) },
        );
      }),
  );

/**
 * The seed scenario (shared/scenarios/seed-three-tier-escalation.json) as the live system
 * records it: confirmed by quorum at 2 h, the warning issued by the notification service on the
 * decision at 3 h and recorded again by the operator at 6 h, tier 2 at 30 h, tier 3 at 50 h, the
 * Western-backed force active at 70 h, resolved at 96 h; no deadline missed.
 */
function seedLog(incidentId = INCIDENT_ID): StoredEvent[] {
  const verification = (type: string) => deterministicId(incidentId, 'verification', type);
  const ack = (tier: 2 | 3, member: string, capability: Capability, at: number) =>
    taskAnswered('CoalitionTaskAcknowledged', taskId(incidentId, tier, member, capability), {
      occurredAt: h(at),
    });
  const findingUS = deterministicId(incidentId, 'finding', 'US');
  const findingUA = deterministicId(incidentId, 'finding', 'UA');
  const warningDecision = deterministicId(incidentId, 'decision', 'warning');
  return storedStream(incidentId, [
    reported({ occurredAt: h(0) }),
    verificationRequested({ id: verification('VerificationRequested'), occurredAt: h(0) }),
    findingBy('US', 'confirmed', { id: findingUS, occurredAt: h(1.5) }),
    findingBy('UA', 'confirmed', { id: findingUA, occurredAt: h(2) }),
    fact(
      'BreachConfirmed',
      { basis: 'quorum', findings: [findingUS, findingUA] },
      { id: verification('BreachConfirmed'), occurredAt: h(2) },
    ),
    decisionRecorded('authorize-warning', { id: warningDecision, occurredAt: h(3) }),
    warningIssued({ id: deterministicId(warningDecision, 'warning'), occurredAt: h(3) }),
    warningIssued({ occurredAt: h(6) }),
    fact(
      'ResponseActionReported',
      { actor: 'UA', action: 'counter-battery' },
      { occurredAt: h(7) },
    ),
    hostilitiesPersisted({ occurredAt: h(30) }),
    ...tasksOf(incidentId, 2, 30),
    ack(2, 'GB', 'land', 31),
    ack(2, 'GB', 'air', 31),
    ack(2, 'FR', 'land', 32),
    ack(2, 'FR', 'air', 32),
    ack(2, 'DE', 'air-defence', 33),
    ack(2, 'PL', 'land', 33),
    ack(2, 'NO', 'maritime', 34),
    ack(2, 'IS', 'logistics', 35),
    taskAnswered('CoalitionTaskDeclined', taskId(incidentId, 2, 'TR', 'maritime'), {
      occurredAt: h(36),
    }),
    assessed('large-scale', { occurredAt: h(50) }),
    ...tasksOf(incidentId, 3, 50),
    decisionRecorded('authorize-western-response', { occurredAt: h(52) }),
    ack(3, 'US', 'intelligence', 53),
    ack(3, 'US', 'logistics', 53.5),
    ack(3, 'US', 'air', 54),
    ack(3, 'GB', 'air', 54.5),
    ack(3, 'FR', 'air', 55),
    westernResponseActivated({ occurredAt: h(70) }),
    resolved({ occurredAt: h(96) }),
  ]);
}

function whatIf(
  events: StoredEvent[],
  document: Partial<EscalationPolicyDocument>,
  end = h(120),
): WhatIfReport {
  const policy: EscalationPolicy = { ...POLICY_V1, ...document, version: 2 };
  const sut = new WhatIfFold(policy, livePolicyOf);
  events.forEach((event) => sut.apply(event));
  return diffWhatIf(sut.finish(end));
}

describe(WhatIfFold.name, () => {
  it('finds no difference in the seed scenario under the shipped policy', () => {
    const report = whatIf(seedLog(), V1_DOCUMENT);

    expect(report).toEqual({ historyEnd: h(120), events: 42, incidents: 1, differing: [] });
  });

  it('reports the seed warning as missed under a 30-minute warning window', () => {
    const report = whatIf(seedLog(), { warningWindowHours: 0.5 });

    expect(report.differing).toEqual([
      {
        incidentId: INCIDENT_ID,
        sector: breachData().location.sector,
        exercise: true,
        status: { live: 'resolved', whatIf: 'resolved' },
        tiers: [
          { tier: 0, live: h(0), whatIf: h(0) },
          { tier: 1, live: h(2), whatIf: h(2) },
          { tier: 2, live: h(30), whatIf: h(30) },
          { tier: 3, live: h(50), whatIf: h(50) },
        ],
        obligations: [
          {
            obligation: 'warning',
            live: { dueAt: h(26), status: 'met', satisfiedAt: h(3) },
            whatIf: { dueAt: h(2.5), status: 'missed' },
          },
        ],
        deadlinesMissed: [{ obligation: 'warning', live: null, whatIf: { dueAt: h(2.5) } }],
      },
    ]);
  });

  it('recomputes a recorded DeadlineMissed: under a longer window it would not have happened', () => {
    const log = storedStream(INCIDENT_ID, [
      reported({ occurredAt: h(0) }),
      fact('BreachConfirmed', { basis: 'override', reason: 'seen' }, { occurredAt: h(1) }),
      deadlineMissed('warning', h(25), { occurredAt: h(25), recordedAt: h(25) }),
      warningIssued({ occurredAt: h(30) }),
    ]);

    const [difference] = whatIf(log, { warningWindowHours: 48 }).differing;

    expect(difference.obligations).toEqual([
      {
        obligation: 'warning',
        live: { dueAt: h(25), status: 'missed' },
        whatIf: { dueAt: h(49), status: 'met', satisfiedAt: h(30) },
      },
    ]);
    expect(difference.deadlinesMissed).toEqual([
      { obligation: 'warning', live: { dueAt: h(25), recorded: true }, whatIf: null },
    ]);
  });

  it('counts deadlines past due at the end of history as missed, on both sides alike', () => {
    const log = storedStream(INCIDENT_ID, [reported({ occurredAt: h(0) })]);

    expect(whatIf(log, V1_DOCUMENT, h(7)).differing).toEqual([]);
    const [difference] = whatIf(log, { verificationWindowHours: 8 }, h(7)).differing;
    expect(difference.deadlinesMissed).toEqual([
      { obligation: 'verification', live: { dueAt: h(6), recorded: false }, whatIf: null },
    ]);
    expect(difference.obligations[0].whatIf).toEqual({ dueAt: h(8), status: 'open' });
  });

  it('tasks the coalition of the alternative rosters, within its acknowledgement window', () => {
    const report = whatIf(seedLog(), {
      coalitionAckWindowHours: 1.5,
      coalitionRoster: [...POLICY_V1.coalitionRoster, { member: 'NL', capabilities: ['air'] }],
    });

    const [{ obligations, deadlinesMissed, tiers }] = report.differing;
    expect(tiers.filter(tierDiffers)).toEqual([]);
    // Answered after 31.5 h at tier 2 or 51.5 h at tier 3: missed; NL was never answered.
    const missed = obligations.filter((o) => o.whatIf?.status === 'missed');
    expect(missed.map((o) => `${o.task?.tier} ${o.task?.member} ${o.task?.capability}`)).toEqual([
      '2 FR land',
      '2 FR air',
      '2 DE air-defence',
      '2 PL land',
      '2 NO maritime',
      '2 IS logistics',
      '2 TR maritime',
      '3 US intelligence',
      '3 US logistics',
      '3 US air',
      '3 GB air',
      '3 FR air',
      '2 NL air',
    ]);
    expect(obligations.find((o) => o.task?.member === 'NL')?.live).toBeNull();
    expect(deadlinesMissed).toHaveLength(13);
  });

  it('leaves a breach unconfirmed when the quorum is out of reach: no tier after 0', () => {
    const report = whatIf(seedLog(), { verificationQuorum: 3 });

    const [difference] = report.differing;
    expect(difference.tiers).toEqual([
      { tier: 0, live: h(0), whatIf: h(0) },
      { tier: 1, live: h(2), whatIf: null },
      { tier: 2, live: h(30), whatIf: null },
      { tier: 3, live: h(50), whatIf: null },
    ]);
    expect(difference.obligations[0]).toEqual({
      obligation: 'verification',
      live: { dueAt: h(6), status: 'met', satisfiedAt: h(2) },
      whatIf: { dueAt: h(6), status: 'missed' },
    });
  });

  it('asks the alternative verifier roster: a finding from a verifier it does not ask does not count', () => {
    // The seed is confirmed by US (1.5 h) and UA (2 h); without US on the roster only UA counts.
    const report = whatIf(seedLog(), { verifierRoster: ['UA', 'GB', 'FR'] });

    const [difference] = report.differing;
    expect(difference.status).toEqual({ live: 'resolved', whatIf: 'resolved' });
    expect(difference.tiers.filter(tierDiffers).map((t) => [t.tier, t.whatIf])).toEqual([
      [1, null],
      [2, null],
      [3, null],
    ]);
    expect(difference.deadlinesMissed).toEqual([
      { obligation: 'verification', live: null, whatIf: { dueAt: h(6) } },
    ]);
  });

  it('finds the sector under repeated violation when the alternative policy counts fewer breaches', () => {
    const other = '11111111-2222-4333-8444-555555555555';
    const confirmedBy = (incidentId: string, at: number) =>
      fact(
        'BreachConfirmed',
        { basis: 'override', reason: 'seen' },
        { id: deterministicId(incidentId, 'confirmed'), occurredAt: h(at) },
      );
    const log = [
      ...storedStream(other, [reported({ occurredAt: h(0) }), confirmedBy(other, 1)], 1),
      ...storedStream(
        INCIDENT_ID,
        [reported({ occurredAt: h(2) }), confirmedBy(INCIDENT_ID, 3)],
        3,
      ),
    ];

    const report = whatIf(log, { repeatedViolation: { confirmedBreaches: 2, windowHours: 168 } });

    expect(report.differing.map((d) => [d.incidentId, d.tiers])).toEqual([
      [
        INCIDENT_ID,
        [
          { tier: 0, live: h(2), whatIf: h(2) },
          { tier: 1, live: h(3), whatIf: h(3) },
          { tier: 2, live: null, whatIf: h(3) },
        ],
      ],
    ]);
    // Reports 2 h apart do not fall within a 1-hour window.
    const apart = whatIf(log, { repeatedViolation: { confirmedBreaches: 2, windowHours: 1 } });
    expect(apart.differing).toEqual([]);
  });

  it("runs the scheduler on each fact's own recordedAt: a stream folded after another sees no future", () => {
    const other = '11111111-2222-4333-8444-555555555555';
    const log = [...seedLog(other), ...seedLog()];

    expect(whatIf(log, V1_DOCUMENT).differing).toEqual([]);
  });

  it('folds events of no incident without counting them', () => {
    const policyAdopted = {
      ...seedLog()[0],
      streamId: 'policy-escalation',
      type: 'EscalationPolicyAdopted',
    };

    expect(whatIf([policyAdopted], V1_DOCUMENT)).toEqual({
      historyEnd: h(120),
      events: 0,
      incidents: 0,
      differing: [],
    });
  });
});
