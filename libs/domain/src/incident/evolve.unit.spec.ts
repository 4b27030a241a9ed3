import {
  assessed,
  confirmed,
  deadlineMissed,
  DEFAULT_SECTOR,
  eventIdAt,
  fact,
  h,
  hostilitiesPersisted,
  incidentSpec,
  INCIDENT_ID,
  rejected,
  reported,
  resolved,
  taskAnswered,
  taskAssigned,
  verificationRequested,
  warningIssued,
  westernResponseActivated,
} from '@truceline/testing';
import { Capability } from '../events/events';
import { POLICY_V1 } from '../policy/policy';
import { evolveIncident } from './evolve';
import { Obligation } from './state';

const spec = incidentSpec();
const repeated = { sector: DEFAULT_SECTOR, windowHours: 168, incidentIds: ['a', 'b'] };
const task = (taskId: string, dueAt: string, member = 'GB', capability: Capability = 'land') =>
  taskAssigned({ taskId, member, capability, tier: 2, dueAt });
const obligation = (obligations: Obligation[], kind: Obligation['kind'], refId?: string) =>
  obligations.find((o) => o.kind === kind && o.refId === refId);

describe(evolveIncident.name, () => {
  describe('tier', () => {
    it('is 0 after the report, with the incident verifying', () => {
      const state = spec.given(reported({ occurredAt: h(-2), recordedAt: h(1) })).state();

      expect(state).toMatchObject({
        incidentId: INCIDENT_ID,
        status: 'verifying',
        tier: 0,
        sector: DEFAULT_SECTOR,
        firstViolationAt: h(-2),
        revision: 0,
      });
      expect(state.tierHistory).toEqual([
        { tier: 0, at: h(-2), recordedAt: h(1), causedBy: eventIdAt(0), policyVersion: 1 },
      ]);
    });

    it('is 1 after the confirmation, with the incident open', () => {
      const state = spec.given(reported(), verificationRequested(), confirmed()).state();

      expect(state).toMatchObject({ status: 'open', tier: 1, confirmedAt: h(2), revision: 2 });
      expect(state.tierHistory.map((t) => [t.tier, t.causedBy])).toEqual([
        [0, eventIdAt(0)],
        [1, eventIdAt(2)],
      ]);
    });

    it('is 2 after HostilitiesPersisted at tier 1', () => {
      const state = spec.given(reported(), confirmed(), hostilitiesPersisted()).state();

      expect(state.tier).toBe(2);
      expect(state.tierHistory.at(-1)).toMatchObject({ tier: 2, causedBy: eventIdAt(2), at: h(2) });
    });

    it('is 2 at confirmation when the confirmation carries a repeated violation', () => {
      const state = spec.given(reported(), confirmed({ repeatedViolation: repeated })).state();

      expect(state.tier).toBe(2);
      expect(state.tierHistory.map((t) => [t.tier, t.causedBy])).toEqual([
        [0, eventIdAt(0)],
        [1, eventIdAt(1)],
        [2, eventIdAt(1)],
      ]);
    });

    it('is 3 after a large-scale assessment at tier 1, recording the skipped tier too', () => {
      const state = spec
        .given(
          reported(),
          confirmed(),
          assessed('large-scale', { occurredAt: h(5), recordedAt: h(9), policyVersion: 1 }),
        )
        .state();

      expect(state.tier).toBe(3);
      expect(state.tierHistory).toEqual([
        { tier: 0, at: h(0), recordedAt: h(0), causedBy: eventIdAt(0), policyVersion: 1 },
        { tier: 1, at: h(1), recordedAt: h(1), causedBy: eventIdAt(1), policyVersion: 1 },
        { tier: 2, at: h(5), recordedAt: h(9), causedBy: eventIdAt(2), policyVersion: 1 },
        { tier: 3, at: h(5), recordedAt: h(9), causedBy: eventIdAt(2), policyVersion: 1 },
      ]);
    });

    it('is 3 after a large-scale assessment at tier 2', () => {
      const state = spec
        .given(reported(), confirmed(), hostilitiesPersisted(), assessed('large-scale'))
        .state();

      expect(state.tier).toBe(3);
      expect(state.tierHistory.map((t) => t.tier)).toEqual([0, 1, 2, 3]);
    });

    it.each(['localized', 'sustained'] as const)('is not raised by a %s assessment', (scale) => {
      const state = spec.given(reported(), confirmed(), assessed(scale)).state();

      expect(state.tier).toBe(1);
      expect(state.tierHistory).toHaveLength(2);
    });

    // SPEC §5: "2 after HostilitiesPersisted while tier ≥ 1", "3 … while tier ≥ 1". decide refuses
    // these before confirmation; a fold of such a log must still not derive a tier from them.
    it.each([
      ['HostilitiesPersisted', hostilitiesPersisted()],
      ['a large-scale assessment', assessed('large-scale')],
    ])('is not raised by %s before the confirmation', (_name, escalation) => {
      const state = spec.given(reported(), escalation).state();

      expect(state.tier).toBe(0);
      expect(state.tierHistory).toHaveLength(1);
      expect(obligation(state.obligations, 'western-response')).toBeUndefined();
    });

    it.each([
      ['HostilitiesPersisted', hostilitiesPersisted()],
      ['a large-scale assessment', assessed('large-scale')],
    ])('is not raised by %s after the rejection', (_name, escalation) => {
      const state = spec.given(reported(), rejected(), escalation).state();

      expect(state).toMatchObject({ status: 'rejected', tier: 0 });
    });

    it('never decreases', () => {
      const state = spec
        .given(
          reported(),
          confirmed(),
          assessed('large-scale'),
          hostilitiesPersisted(),
          assessed('localized'),
          confirmed(),
        )
        .state();

      expect(state.tier).toBe(3);
      expect(state.tierHistory.map((t) => t.tier)).toEqual([0, 1, 2, 3]);
    });

    it('records the policy version in force for each tier change', () => {
      const v2 = { ...POLICY_V1, version: 2, verificationWindowHours: 12 };
      const sut = incidentSpec({ policyOf: (v) => (v === 2 ? v2 : POLICY_V1) });

      const state = sut.given(reported(), confirmed({ policyVersion: 2 })).state();

      expect(state.tierHistory.map((t) => t.policyVersion)).toEqual([1, 2]);
    });

    it("computes deadlines under the policy recorded in the event's metadata", () => {
      const v2 = { ...POLICY_V1, version: 2, verificationWindowHours: 12, warningWindowHours: 48 };
      const sut = incidentSpec({ policyOf: (v) => (v === 2 ? v2 : POLICY_V1) });

      const state = sut
        .given(reported({ policyVersion: 2 }), confirmed({ occurredAt: h(20) }))
        .state();

      expect(obligation(state.obligations, 'verification')?.dueAt).toBe(h(12));
      expect(obligation(state.obligations, 'warning')?.dueAt).toBe(h(44));
    });
  });

  describe('resolution', () => {
    it('keeps the highest tier and sets the status resolved', () => {
      const state = spec
        .given(reported(), confirmed(), assessed('large-scale'), resolved())
        .state();

      expect(state).toMatchObject({ status: 'resolved', tier: 3 });
      expect(state.tierHistory.map((t) => t.tier)).toEqual([0, 1, 2, 3]);
    });

    it('closes every open obligation and leaves met and missed ones as they were', () => {
      const state = spec
        .given(
          reported(),
          confirmed(),
          hostilitiesPersisted(),
          task('task-gb-land', h(14)),
          task('task-fr-land', h(14), 'FR'),
          taskAnswered('CoalitionTaskAcknowledged', 'task-fr-land'),
          assessed('large-scale'),
          deadlineMissed('coalition-ack', h(14), { refId: 'task-gb-land', occurredAt: h(14) }),
          resolved({ occurredAt: h(15) }),
        )
        .state();

      expect(state.obligations.map((o) => [o.kind, o.refId, o.status])).toEqual([
        ['verification', undefined, 'met'],
        ['warning', undefined, 'closed'],
        ['coalition-ack', 'task-gb-land', 'missed'],
        ['coalition-ack', 'task-fr-land', 'met'],
        ['western-response', undefined, 'closed'],
      ]);
    });
  });

  describe('rejection', () => {
    it('sets the status rejected at tier 0 and meets the verification', () => {
      const state = spec.given(reported(), verificationRequested(), rejected()).state();

      expect(state).toMatchObject({ status: 'rejected', tier: 0 });
      expect(state.tierHistory.map((t) => t.tier)).toEqual([0]);
      expect(state.obligations).toEqual([
        {
          kind: 'verification',
          dueAt: h(6),
          status: 'met',
          satisfiedAt: h(2),
          recordedLate: false,
        },
      ]);
    });
  });

  describe('obligations', () => {
    it('opens the verification at the report, due report occurredAt + 6 h', () => {
      const state = spec.given(reported({ occurredAt: h(-30), recordedAt: h(0) })).state();

      expect(state.obligations).toEqual([{ kind: 'verification', dueAt: h(-24), status: 'open' }]);
    });

    it('meets the verification by a confirmation up to its dueAt', () => {
      const state = spec.given(reported(), confirmed({ occurredAt: h(6) })).state();

      expect(obligation(state.obligations, 'verification')).toMatchObject({
        status: 'met',
        satisfiedAt: h(6),
      });
    });

    it('leaves the verification open after a confirmation past its dueAt', () => {
      const state = spec.given(reported(), confirmed({ occurredAt: h(6.5) })).state();

      expect(obligation(state.obligations, 'verification')?.status).toBe('open');
    });

    it('opens the warning at confirmation, due confirmation occurredAt + 24 h', () => {
      const state = spec
        .given(reported(), confirmed({ occurredAt: h(3), recordedAt: h(40) }))
        .state();

      expect(obligation(state.obligations, 'warning')).toEqual({
        kind: 'warning',
        dueAt: h(27),
        status: 'open',
      });
    });

    it('meets the warning by a WarningIssued that occurred up to its dueAt', () => {
      const state = spec
        .given(reported(), confirmed({ occurredAt: h(3) }), warningIssued({ occurredAt: h(27) }))
        .state();

      expect(obligation(state.obligations, 'warning')).toMatchObject({
        status: 'met',
        satisfiedAt: h(27),
        recordedLate: false,
      });
    });

    it('does not meet the warning by a WarningIssued that occurred after its dueAt', () => {
      const state = spec
        .given(
          reported(),
          confirmed({ occurredAt: h(3) }),
          warningIssued({ occurredAt: h(27.01), recordedAt: h(27.01) }),
        )
        .state();

      expect(obligation(state.obligations, 'warning')?.status).toBe('open');
      expect(state.warningsIssued).toBe(1);
    });

    it('opens one coalition-ack per task, due at the task dueAt', () => {
      const state = spec
        .given(
          reported(),
          confirmed(),
          hostilitiesPersisted(),
          task('task-gb-land', h(14)),
          task('task-pl-land', h(16), 'PL'),
        )
        .state();

      expect(state.obligations.filter((o) => o.kind === 'coalition-ack')).toEqual([
        { kind: 'coalition-ack', refId: 'task-gb-land', dueAt: h(14), status: 'open' },
        { kind: 'coalition-ack', refId: 'task-pl-land', dueAt: h(16), status: 'open' },
      ]);
      expect(state.tasks.map((t) => [t.taskId, t.tier, t.status])).toEqual([
        ['task-gb-land', 2, 'assigned'],
        ['task-pl-land', 2, 'assigned'],
      ]);
    });

    it.each([
      ['CoalitionTaskAcknowledged', 'acknowledged'],
      ['CoalitionTaskDeclined', 'declined'],
    ] as const)('meets only the answered task coalition-ack by %s', (answer, taskStatus) => {
      const state = spec
        .given(
          reported(),
          confirmed(),
          hostilitiesPersisted(),
          task('task-gb-land', h(14)),
          task('task-pl-land', h(14), 'PL'),
          taskAnswered(answer, 'task-pl-land', { occurredAt: h(10) }),
        )
        .state();

      expect(obligation(state.obligations, 'coalition-ack', 'task-pl-land')).toMatchObject({
        status: 'met',
        satisfiedAt: h(10),
      });
      expect(obligation(state.obligations, 'coalition-ack', 'task-gb-land')?.status).toBe('open');
      expect(state.tasks.find((t) => t.taskId === 'task-pl-land')?.status).toBe(taskStatus);
    });

    it('opens the western-response at tier 3, due the first violation + 72 h', () => {
      const state = spec
        .given(
          reported({ occurredAt: h(-10) }),
          confirmed({ occurredAt: h(-5) }),
          assessed('large-scale', { occurredAt: h(30) }),
        )
        .state();

      expect(obligation(state.obligations, 'western-response')).toEqual({
        kind: 'western-response',
        dueAt: h(62),
        status: 'open',
      });
    });

    it('opens the western-response once however often the attack is assessed large-scale', () => {
      const state = spec
        .given(reported(), confirmed(), assessed('large-scale'), assessed('large-scale'))
        .state();

      expect(state.obligations.filter((o) => o.kind === 'western-response')).toHaveLength(1);
    });

    it('meets the western-response by its activation', () => {
      const state = spec
        .given(
          reported(),
          confirmed(),
          assessed('large-scale'),
          westernResponseActivated({ occurredAt: h(72) }),
        )
        .state();

      expect(obligation(state.obligations, 'western-response')).toMatchObject({
        status: 'met',
        satisfiedAt: h(72),
      });
    });

    it('marks an obligation missed by DeadlineMissed, with when it became known', () => {
      const state = spec
        .given(
          reported(),
          deadlineMissed('verification', h(6), { occurredAt: h(6), recordedAt: h(6.002) }),
        )
        .state();

      expect(obligation(state.obligations, 'verification')).toEqual({
        kind: 'verification',
        dueAt: h(6),
        status: 'missed',
        missedAt: h(6),
        missedRecordedAt: h(6.002),
      });
    });

    it('marks only the task named by a coalition-ack DeadlineMissed', () => {
      const state = spec
        .given(
          reported(),
          confirmed(),
          hostilitiesPersisted(),
          task('task-gb-land', h(14)),
          task('task-pl-land', h(14), 'PL'),
          deadlineMissed('coalition-ack', h(14), { refId: 'task-gb-land', occurredAt: h(14) }),
        )
        .state();

      expect(obligation(state.obligations, 'coalition-ack', 'task-gb-land')?.status).toBe('missed');
      expect(obligation(state.obligations, 'coalition-ack', 'task-pl-land')?.status).toBe('open');
    });

    it('shows met, recorded late, a satisfier that occurred in time but arrived after the DeadlineMissed', () => {
      const state = spec
        .given(
          reported(),
          confirmed({ occurredAt: h(1) }),
          deadlineMissed('warning', h(25), { occurredAt: h(25), recordedAt: h(25.001) }),
          warningIssued({ occurredAt: h(20), recordedAt: h(30) }),
        )
        .state();

      expect(obligation(state.obligations, 'warning')).toEqual({
        kind: 'warning',
        dueAt: h(25),
        status: 'met',
        satisfiedAt: h(20),
        recordedLate: true,
        missedAt: h(25),
        missedRecordedAt: h(25.001),
      });
    });

    it('leaves missed an obligation whose late satisfier also occurred late', () => {
      const state = spec
        .given(
          reported(),
          confirmed({ occurredAt: h(1) }),
          deadlineMissed('warning', h(25), { occurredAt: h(25) }),
          warningIssued({ occurredAt: h(26) }),
        )
        .state();

      expect(obligation(state.obligations, 'warning')?.status).toBe('missed');
    });

    it('ignores a DeadlineMissed for an obligation already met', () => {
      const state = spec
        .given(
          reported(),
          confirmed({ occurredAt: h(2) }),
          deadlineMissed('verification', h(6), { occurredAt: h(6) }),
        )
        .state();

      expect(obligation(state.obligations, 'verification')).toMatchObject({
        status: 'met',
        satisfiedAt: h(2),
      });
    });
  });

  it('marks the incident as exercise data when a fact says so', () => {
    expect(spec.given(reported()).state().exercise).toBe(false);
    expect(spec.given(reported(), confirmed({ exercise: true })).state().exercise).toBe(true);
  });
  describe('receipts', () => {
    it('records each notice acknowledged, by whom and when, and nothing else', () => {
      const given = spec.given(
        reported(),
        verificationRequested(),
        confirmed(),
        fact('NoticeAcknowledged', { partner: 'PL', eventId: 'notice-1' }, { occurredAt: h(5) }),
      );
      const before = spec.given(reported(), verificationRequested(), confirmed()).state();

      expect(given.state().acknowledgements).toEqual([
        { partner: 'PL', eventId: 'notice-1', at: h(5) },
      ]);
      expect({ ...given.state(), acknowledgements: [], revision: 2 }).toEqual(before);
    });
  });
});
