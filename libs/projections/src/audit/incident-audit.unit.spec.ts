import { Actor, POLICY_V1, StoredEvent } from '@truceline/domain';
import {
  assessed,
  confirmed,
  deadlineMissed,
  decisionRecorded,
  fact,
  FactDraft,
  h,
  INCIDENT_ID,
  operator,
  reported,
  service,
  stream,
  taskAnswered,
  taskAssigned,
  verificationRequested,
  warningIssued,
} from '@truceline/testing';
import { tierNoticeId } from '../feed.projection';
import { IncidentView } from '../incident-view';
import { buildIncidentAudit } from './incident-audit';

/** The stream as the store would hand it out: positions, actors, the exercise mark. */
function stored(actors: Actor[], ...drafts: FactDraft[]): StoredEvent[] {
  return stream(...drafts).map((f, i) => ({
    ...f,
    schemaVersion: 1,
    position: 100 + i,
    metadata: {
      correlationId: 'c',
      causationId: f.type === 'NotificationDelivered' ? 'cause-of-delivery' : null,
      actor: actors[i] ?? operator,
      policyVersion: f.metadata.policyVersion,
      exercise: true,
    },
  }));
}

const policyOf = () => POLICY_V1;
const at = (hours: number) => new Date(h(hours));

/**
 * The missed-warning story with the warning recorded late: confirmed at 2 h, the warning window
 * (24 h) passes at 26 h and is recorded missed at 26.1 h; at 40 h an operator records the
 * warning that was in fact issued at 20 h.
 */
const lateWarning = () =>
  stored(
    [operator, service, service, operator, service, operator, service],
    reported({ occurredAt: h(0) }),
    verificationRequested({ occurredAt: h(0) }),
    confirmed({ occurredAt: h(2), basis: 'quorum' }),
    decisionRecorded('authorize-warning', { occurredAt: h(3) }),
    deadlineMissed('warning', h(26), { occurredAt: h(26), recordedAt: h(26.1) }),
    warningIssued({ occurredAt: h(20), recordedAt: h(40) }),
    fact(
      'NotificationDelivered',
      { partner: 'GB', subject: 'tier-change', tier: 1, channel: 'webhook', reference: 'd-1' },
      { occurredAt: h(40.5) },
    ),
  );

describe(buildIncidentAudit.name, () => {
  it('shows the warning missed before the late warning was recorded', () => {
    const sut = buildIncidentAudit(lateWarning(), { asOf: at(30), policyOf });

    expect(sut?.asOf).toBe(h(30));
    expect(sut?.exercise).toBe(true);
    expect(sut?.knownAt).toMatchObject({ incidentId: INCIDENT_ID, tier: 1, revision: 4 });
    expect(sut?.obligations.find((o) => o.kind === 'warning')).toEqual({
      kind: 'warning',
      dueAt: h(26),
      status: 'missed',
      missed: { at: h(26), recordedAt: h(26.1) },
      policyVersion: 1,
    });
    expect(sut?.timeline.map((e) => e.type)).not.toContain('WarningIssued');
  });

  it('shows it met, recorded late, with both facts and when each became known, after', () => {
    const sut = buildIncidentAudit(lateWarning(), { asOf: at(41), policyOf });

    expect(sut?.obligations.find((o) => o.kind === 'warning')).toEqual({
      kind: 'warning',
      dueAt: h(26),
      status: 'met',
      satisfiedBy: {
        eventId: sut?.timeline.find((e) => e.type === 'WarningIssued')?.eventId,
        actor: { id: operator.id, role: 'operator' },
        occurredAt: h(20),
        recordedAt: h(40),
      },
      missed: { at: h(26), recordedAt: h(26.1) },
      recordedLate: true,
      policyVersion: 1,
    });
    expect(sut?.knownAt.obligations.find((o) => o.kind === 'warning')).toMatchObject({
      status: 'met',
      recordedLate: true,
    });
  });

  it('orders the timeline by occurredAt and flags only what arrived after later facts', () => {
    const sut = buildIncidentAudit(lateWarning(), { asOf: at(41), policyOf });

    expect(sut?.timeline.map((e) => [e.type, e.occurredAt, e.recordedLate])).toEqual([
      ['BreachReported', h(0), false],
      ['VerificationRequested', h(0), false],
      ['BreachConfirmed', h(2), false],
      ['DecisionRecorded', h(3), false],
      ['WarningIssued', h(20), true],
      ['DeadlineMissed', h(26), false],
      ['NotificationDelivered', h(40.5), false],
    ]);
    expect(sut?.timeline[4]).toMatchObject({
      recordedAt: h(40),
      actor: { id: operator.id, role: 'operator' },
      policyVersion: 1,
      summary: 'warning issued to RU-MFA via osce-hotline (note-1)',
    });
  });

  it('names the §5 rule and the policy version of every tier change', () => {
    const events = stored([], reported(), confirmed(), assessed('large-scale'));

    const sut = buildIncidentAudit(events, { asOf: at(10), policyOf });

    expect(sut?.tierChanges).toEqual([
      {
        tier: 0,
        at: h(0),
        causedBy: events[0].id,
        policyVersion: 1,
        rule: '0 after BreachReported',
      },
      {
        tier: 1,
        at: h(1),
        causedBy: events[1].id,
        policyVersion: 1,
        rule: '1 after BreachConfirmed',
      },
      {
        tier: 2,
        at: h(2),
        causedBy: events[2].id,
        policyVersion: 1,
        rule: '3 after EscalationAssessed with scale large-scale while tier ≥ 1 (tier 2 passed on the way: its measures apply)',
      },
      {
        tier: 3,
        at: h(2),
        causedBy: events[2].id,
        policyVersion: 1,
        rule: '3 after EscalationAssessed with scale large-scale while tier ≥ 1',
      },
    ]);
  });

  it('lists every decision with when it was taken and recorded', () => {
    const sut = buildIncidentAudit(lateWarning(), { asOf: at(41), policyOf });

    expect(sut?.decisions).toEqual([
      {
        eventId: sut?.timeline[3].eventId,
        authority: 'joint-council',
        decision: 'authorize-warning',
        rationale: 'per the plan',
        at: h(3),
        recordedAt: h(3),
      },
    ]);
  });

  it('pairs each delivery with its acknowledgement', () => {
    const events = stored(
      [],
      reported(),
      fact(
        'NotificationDelivered',
        { partner: 'GB', subject: 'tier-change', tier: 0, channel: 'webhook', reference: 'd' },
        { occurredAt: h(1) },
      ),
      fact('NoticeAcknowledged', { partner: 'GB', eventId: tierNoticeId(INCIDENT_ID, 0) }),
      fact('NoticeAcknowledged', { partner: 'FR', eventId: tierNoticeId(INCIDENT_ID, 0) }),
    );

    const sut = buildIncidentAudit(events, { asOf: at(10), policyOf });

    expect(sut?.notifications).toEqual([
      { partner: 'GB', subject: 'tier-change', tier: 0, deliveredAt: h(1), acknowledgedAt: h(2) },
      { partner: 'FR', subject: 'tier-change', tier: 0, acknowledgedAt: h(3) },
    ]);
  });

  it('is null when nothing of the incident was recorded by asOf', () => {
    expect(buildIncidentAudit(lateWarning(), { asOf: at(-1), policyOf })).toBeNull();
    expect(buildIncidentAudit([], { asOf: at(100), policyOf })).toBeNull();
  });

  describe('for a ministry', () => {
    const gbTask = { taskId: 'gb-1', member: 'GB', capability: 'land' as const, tier: 2 as const };
    const events = () =>
      stored(
        [operator, service, service, operator, service, service, service],
        reported(),
        confirmed(),
        fact('HostilitiesPersisted', { observation: 'shelling' }),
        fact('DecisionRecorded', {
          authority: 'council',
          decision: 'other',
          rationale: 'for UA only',
          releasableTo: ['UA'],
        }),
        taskAssigned({ ...gbTask, dueAt: h(15) }),
        taskAssigned({ ...gbTask, taskId: 'pl-1', member: 'PL', dueAt: h(15) }),
        taskAnswered('CoalitionTaskAcknowledged', 'pl-1'),
      );
    const viewer = (partner: string) => ({
      partner,
      view: (view: IncidentView) => ({
        ...view,
        obligations: view.obligations.filter((o) => o.refId !== 'pl-1' || partner === 'PL'),
      }),
    });

    it('shows what its feed releases, without naming sources or actors', () => {
      const sut = buildIncidentAudit(events(), { asOf: at(10), policyOf, viewer: viewer('GB') });

      expect(sut?.timeline.map((e) => e.type)).toEqual([
        'BreachReported',
        'BreachConfirmed',
        'HostilitiesPersisted',
        'CoalitionTaskAssigned',
      ]);
      expect(sut?.timeline[0].summary).not.toContain('sensor-0712');
      expect(sut?.timeline.every((e) => e.actor.id === undefined)).toBe(true);
      expect(sut?.decisions).toEqual([]);
      expect(sut?.obligations.map((o) => o.refId ?? o.kind)).toEqual([
        'verification',
        'warning',
        'gb-1',
      ]);
    });

    it('is null when nothing of the incident is released to it', () => {
      const onlyRequest = stored([service], verificationRequested({ verifiers: ['US'] }));

      expect(
        buildIncidentAudit(onlyRequest, { asOf: at(10), policyOf, viewer: viewer('GB') }),
      ).toBeNull();
      expect(buildIncidentAudit(onlyRequest, { asOf: at(10), policyOf })).not.toBeNull();
    });
  });
});
