import { POLICY_V1 } from '../policy/policy';
import { CoalitionTask } from '../incident/state';
import {
  FEED_PARTNERS,
  INCIDENT_TIER_CHANGED,
  isReleasable,
  maySeeObligation,
  maySeeReceipt,
  maySeeTask,
  redactFor,
} from './visibility';

const task = (taskId: string, member: string): CoalitionTask => ({
  taskId,
  member,
  tier: 2,
  capability: 'land',
  dueAt: '2026-03-02T16:00:00.000Z',
  status: 'assigned',
});
const incident = { verifiers: ['UA', 'US', 'GB', 'FR'], tasks: [task('t-gb', 'GB')] };
const partners = FEED_PARTNERS(POLICY_V1);
const releasedTo = (event: { type: string; data: unknown }, context = incident) =>
  partners.filter((p) => isReleasable(event, p, context));

const report = {
  location: { sector: 'donetsk-north', frontlineKm: 412.5 },
  category: 'artillery',
  severity: 'major',
  source: { kind: 'sensor', id: 'acoustic-array-17' },
  summary: 'fire',
};

describe(isReleasable.name, () => {
  it('knows a feed for every partner of the policy', () => {
    expect(partners).toEqual(['DE', 'EU', 'FR', 'GB', 'IS', 'NO', 'PL', 'TR', 'UA', 'US']);
  });

  it.each([
    'BreachReported',
    'BreachConfirmed',
    'BreachRejected',
    'WarningIssued',
    'HostilitiesPersisted',
    'EscalationAssessed',
    'WesternResponseActivated',
    'DeadlineMissed',
    'IncidentResolved',
    INCIDENT_TIER_CHANGED,
  ])('releases %s to every partner', (type) => {
    expect(releasedTo({ type, data: {} })).toEqual(partners);
  });

  it('releases a verification request to the verifiers it names and UA', () => {
    const event = { type: 'VerificationRequested', data: { verifiers: ['US', 'GB'], dueAt: '' } };

    expect(releasedTo(event, { verifiers: [], tasks: [] })).toEqual(['GB', 'UA', 'US']);
  });

  it('releases a finding to the assigned verifiers and UA only', () => {
    const event = {
      type: 'VerificationFindingSubmitted',
      data: { verifier: 'US', finding: 'confirmed', evidence: [] },
    };

    expect(releasedTo(event)).toEqual(['FR', 'GB', 'UA', 'US']);
    expect(releasedTo(event, { verifiers: ['US'], tasks: [] })).toEqual(['UA', 'US']);
  });

  it('releases a task assignment to the tasked member, UA and US', () => {
    const event = {
      type: 'CoalitionTaskAssigned',
      data: { taskId: 't-pl', member: 'PL', capability: 'land', dueAt: '', tier: 2 },
    };

    expect(releasedTo(event)).toEqual(['PL', 'UA', 'US']);
  });

  it.each(['CoalitionTaskAcknowledged', 'CoalitionTaskDeclined', 'CoalitionTaskCompleted'])(
    'releases %s to the member of that task, UA and US',
    (type) => {
      expect(releasedTo({ type, data: { taskId: 't-gb' } })).toEqual(['GB', 'UA', 'US']);
      expect(releasedTo({ type, data: { taskId: 'unknown' } })).toEqual(['UA', 'US']);
    },
  );

  it('releases a decision to every partner unless it names releasableTo', () => {
    const decision = { authority: 'cell', decision: 'other', rationale: 'r' };

    expect(releasedTo({ type: 'DecisionRecorded', data: decision })).toEqual(partners);
    expect(
      releasedTo({ type: 'DecisionRecorded', data: { ...decision, releasableTo: ['gb', 'PL'] } }),
    ).toEqual(['GB', 'PL']);
    expect(
      releasedTo({ type: 'DecisionRecorded', data: { ...decision, releasableTo: [] } }),
    ).toEqual([]);
  });

  it.each(['ResponseActionReported', 'NotificationDelivered', 'NoticeAcknowledged', 'Unknown'])(
    'releases %s to nobody',
    (type) => {
      expect(releasedTo({ type, data: { partner: 'GB', eventId: 'x' } })).toEqual([]);
    },
  );

  it('reads the codes an event names defensively: anything but a string names nobody', () => {
    const request = { type: 'VerificationRequested', data: { verifiers: ['gb', 7, null, 'US'] } };
    const decision = (releasableTo: unknown) => ({
      type: 'DecisionRecorded',
      data: { authority: 'cell', decision: 'other', rationale: 'r', releasableTo },
    });
    const none = { verifiers: [], tasks: [] };

    expect(releasedTo(request, none)).toEqual(['GB', 'UA', 'US']);
    expect(releasedTo({ type: 'VerificationRequested', data: { verifiers: 'GB' } }, none)).toEqual([
      'UA',
    ]);
    expect(releasedTo(decision([1, 'pl', { code: 'GB' }]))).toEqual(['PL']);
    expect(releasedTo(decision('GB'))).toEqual([]);
    expect(releasedTo({ type: 'CoalitionTaskAssigned', data: { member: 7 } })).toEqual([
      'UA',
      'US',
    ]);
  });

  it('compares partner codes without regard to case', () => {
    expect(
      isReleasable({ type: 'CoalitionTaskAssigned', data: { member: 'GB' } }, 'gb', incident),
    ).toBe(true);
  });
});

describe(redactFor.name, () => {
  it('withholds the source id of a report', () => {
    const sut = redactFor({ type: 'BreachReported', data: report }, 'PL');

    expect(sut).toEqual({ ...report, source: { kind: 'sensor' } });
    expect(report.source.id).toBe('acoustic-array-17');
  });

  it('passes other data through unchanged', () => {
    const data = { channel: 'c', recipient: 'RU', reference: 'DW-1' };

    expect(redactFor({ type: 'WarningIssued', data }, 'PL')).toEqual(data);
  });
});

describe('incident view rules', () => {
  const tasks = [task('t-gb', 'GB'), task('t-pl', 'PL')];

  it('shows a task to its member, UA and US only', () => {
    expect(partners.filter((p) => maySeeTask(p, tasks[0]))).toEqual(['GB', 'UA', 'US']);
  });

  it('shows a coalition-ack obligation with its task, every other obligation to all', () => {
    const ack = { kind: 'coalition-ack' as const, refId: 't-pl' };

    expect(partners.filter((p) => maySeeObligation(p, ack, tasks))).toEqual(['PL', 'UA', 'US']);
    expect(maySeeObligation('GB', { kind: 'coalition-ack', refId: 'gone' }, tasks)).toBe(false);
    expect(maySeeObligation('GB', { kind: 'warning' }, tasks)).toBe(true);
  });

  it('shows a receipt to the partner that gave it only', () => {
    expect(partners.filter((p) => maySeeReceipt(p, { partner: 'gb' }))).toEqual(['GB']);
  });
});
