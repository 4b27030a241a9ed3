import {
  breachData,
  confirmed,
  decisionRecorded,
  DEFAULT_SECTOR,
  findingBy,
  h,
  hostilitiesPersisted,
  incidentSpec,
  ministryOf,
  operator,
  assessed,
  rejected,
  reported,
  resolved,
  taskAnswered,
  taskAssigned,
  verificationRequested,
  verifierOf,
} from '@truceline/testing';
import { Actor } from '../events/envelope';
import { ForbiddenError, IllegalStateError, NotFoundError } from '../errors/errors';
import { decideIncident } from './decide';
import { Decision, IncidentEvent, VerificationFindingSubmitted } from '../events/events';
import { IncidentCommand } from './decide';

const spec = incidentSpec();

const reportBreach: IncidentCommand = { type: 'ReportBreach', data: breachData() };
const findingData = (verifier: string): VerificationFindingSubmitted => ({
  verifier,
  finding: 'confirmed',
  evidence: ['img-1'],
});
const findingOf = (verifier: string): IncidentCommand => ({
  type: 'SubmitFinding',
  data: findingData(verifier),
});
const overrideConfirmed: IncidentCommand = {
  type: 'OverrideVerdict',
  data: { verdict: 'confirmed', reason: 'video evidence' },
};
const overrideRejected: IncidentCommand = {
  type: 'OverrideVerdict',
  data: { verdict: 'rejected', reason: 'training fire' },
};
const recordWarning: IncidentCommand = {
  type: 'RecordWarning',
  data: { channel: 'osce-hotline', recipient: 'RU-MFA', reference: 'note-7' },
};
const reportResponseAction: IncidentCommand = {
  type: 'ReportResponseAction',
  data: { actor: 'UA 93rd brigade', action: 'counter-battery fire halted the shelling' },
};
const reportHostilities: IncidentCommand = {
  type: 'ReportHostilities',
  data: { observation: 'shelling continues' },
};
const assessLargeScale: IncidentCommand = {
  type: 'AssessEscalation',
  data: { scale: 'large-scale', assessor: 'joint-cell' },
};
const recordDecision: IncidentCommand = {
  type: 'RecordDecision',
  data: { authority: 'joint-council', decision: 'authorize-warning', rationale: 'tier 1' },
};
const activateWesternResponse: IncidentCommand = {
  type: 'ActivateWesternResponse',
  data: { elements: ['US intelligence', 'GB air'], reference: 'op-1' },
};
const resolveIncident: IncidentCommand = {
  type: 'ResolveIncident',
  data: { resolution: 'ceased' },
};
const answer = (
  taskId: string,
  kind: 'acknowledge' | 'decline' | 'complete',
  reason?: string,
): IncidentCommand => ({
  type: 'AnswerTask',
  data: { taskId, answer: kind, ...(reason ? { reason } : {}) },
});

/** Tier 1 measures: allowed only once the breach is confirmed and the incident open. */
const measures: [string, IncidentCommand][] = [
  ['RecordWarning', recordWarning],
  ['ReportResponseAction', reportResponseAction],
  ['ReportHostilities', reportHostilities],
  ['AssessEscalation', assessLargeScale],
  ['ActivateWesternResponse', activateWesternResponse],
];

const byOperator = (named: [string, IncidentCommand][]): [string, IncidentCommand, Actor][] =>
  named.map(([name, command]) => [name, command, operator]);

const gbLand = {
  taskId: 'task-gb-land',
  member: 'GB',
  capability: 'land' as const,
  tier: 2 as const,
  dueAt: h(15),
};
const tier2WithTask = [reported(), confirmed(), hostilitiesPersisted(), taskAssigned(gbLand)];

describe(decideIncident.name, () => {
  describe('ReportBreach', () => {
    it('reports a breach on a new incident', () => {
      spec
        .given()
        .when(reportBreach)
        .then([{ type: 'BreachReported', data: breachData() }]);
    });

    it('refuses a report on an existing incident (409 incident-exists)', () => {
      spec.given(reported()).when(reportBreach).thenThrows(IllegalStateError, 'incident-exists');
    });
  });

  describe('an unknown incident', () => {
    const commands: [string, IncidentCommand, Actor][] = [
      ['SubmitFinding', findingOf('UA'), verifierOf('UA')],
      ['OverrideVerdict', overrideConfirmed, operator],
      ...byOperator(measures),
      ['RecordDecision', recordDecision, operator],
      ['AnswerTask', answer('task-gb-land', 'acknowledge'), ministryOf('GB')],
      ['ResolveIncident', resolveIncident, operator],
    ];

    it.each(commands)('refuses %s with 404', (_name, command, actor) => {
      spec.given().when(command, { actor }).thenThrows(NotFoundError);
    });
  });

  describe('SubmitFinding', () => {
    it('records the finding of an assigned verifier', () => {
      spec
        .given(reported(), verificationRequested())
        .when(findingOf('GB'), { actor: verifierOf('GB') })
        .then([{ type: 'VerificationFindingSubmitted', data: findingData('GB') }]);
    });

    it('accepts a roster verifier before the request is recorded', () => {
      spec
        .given(reported())
        .when(findingOf('FR'), { actor: verifierOf('FR') })
        .then([{ type: 'VerificationFindingSubmitted', data: findingData('FR') }]);
    });

    it("refuses a finding whose verifier differs from the token's partner (403 verifier-mismatch)", () => {
      spec
        .given(reported(), verificationRequested())
        .when(findingOf('UA'), { actor: verifierOf('US') })
        .thenThrows(ForbiddenError, 'verifier-mismatch');
    });

    it('refuses a finding from a token without a partner (403 verifier-mismatch)', () => {
      spec
        .given(reported(), verificationRequested())
        .when(findingOf('UA'))
        .thenThrows(ForbiddenError, 'verifier-mismatch');
    });

    it('refuses a verifier who was not assigned (403 verifier-not-assigned)', () => {
      spec
        .given(reported(), verificationRequested({ verifiers: ['UA', 'US'] }))
        .when(findingOf('GB'), { actor: verifierOf('GB') })
        .thenThrows(ForbiddenError, 'verifier-not-assigned');
    });

    it('refuses a verifier outside the roster before the request is recorded (403)', () => {
      spec
        .given(reported())
        .when(findingOf('DE'), { actor: verifierOf('DE') })
        .thenThrows(ForbiddenError, 'verifier-not-assigned');
    });

    it('refuses a second finding from the same verifier (409 finding-already-submitted)', () => {
      spec
        .given(reported(), verificationRequested(), findingBy('UA', 'inconclusive'))
        .when(findingOf('UA'), { actor: verifierOf('UA') })
        .thenThrows(IllegalStateError, 'finding-already-submitted');
    });

    it.each([
      ['confirmation', confirmed()],
      ['rejection', rejected()],
    ])('refuses findings after %s (409 verification-closed)', (_name, verdict) => {
      spec
        .given(reported(), verificationRequested(), verdict)
        .when(findingOf('US'), { actor: verifierOf('US') })
        .thenThrows(IllegalStateError, 'verification-closed');
    });
  });

  describe('OverrideVerdict', () => {
    it('confirms by override with the reason', () => {
      spec
        .given(reported(), verificationRequested())
        .when(overrideConfirmed)
        .then([{ type: 'BreachConfirmed', data: { basis: 'override', reason: 'video evidence' } }]);
    });

    it('records the repeated violation of the sector in the confirmation', () => {
      spec
        .given(reported())
        .when(overrideConfirmed, {
          sectorConfirmations: [
            { incidentId: 'other-1', reportedAt: h(-30) },
            { incidentId: 'other-2', reportedAt: h(-100) },
          ],
        })
        .then([
          {
            type: 'BreachConfirmed',
            data: {
              basis: 'override',
              reason: 'video evidence',
              repeatedViolation: {
                sector: DEFAULT_SECTOR,
                windowHours: 168,
                incidentIds: ['other-2', 'other-1'],
              },
            },
          },
        ]);
    });

    it('rejects by override with the reason', () => {
      spec
        .given(reported())
        .when(overrideRejected)
        .then([{ type: 'BreachRejected', data: { basis: 'override', reason: 'training fire' } }]);
    });

    it.each([
      ['confirmation', confirmed()],
      ['rejection', rejected()],
    ])('refuses an override after %s (409 verification-closed)', (_name, verdict) => {
      spec
        .given(reported(), verdict)
        .when(overrideConfirmed)
        .thenThrows(IllegalStateError, 'verification-closed');
    });
  });

  describe('tier measures', () => {
    it.each(measures)('refuses %s before confirmation (409 not-confirmed)', (_name, command) => {
      spec
        .given(reported(), verificationRequested(), findingBy('UA', 'confirmed'))
        .when(command)
        .thenThrows(IllegalStateError, 'not-confirmed');
    });

    it.each(measures)('refuses %s after rejection (409 incident-rejected)', (_name, command) => {
      spec
        .given(reported(), rejected())
        .when(command)
        .thenThrows(IllegalStateError, 'incident-rejected');
    });

    it.each<[string, IncidentCommand, IncidentEvent]>([
      [
        'WarningIssued',
        recordWarning,
        {
          type: 'WarningIssued',
          data: { channel: 'osce-hotline', recipient: 'RU-MFA', reference: 'note-7' },
        },
      ],
      [
        'ResponseActionReported',
        reportResponseAction,
        {
          type: 'ResponseActionReported',
          data: { actor: 'UA 93rd brigade', action: 'counter-battery fire halted the shelling' },
        },
      ],
      [
        'HostilitiesPersisted',
        reportHostilities,
        { type: 'HostilitiesPersisted', data: { observation: 'shelling continues' } },
      ],
      [
        'EscalationAssessed',
        assessLargeScale,
        { type: 'EscalationAssessed', data: { scale: 'large-scale', assessor: 'joint-cell' } },
      ],
    ])('appends %s once the breach is confirmed', (_type, command, expected) => {
      spec.given(reported(), confirmed()).when(command).then([expected]);
    });
  });

  describe('ActivateWesternResponse', () => {
    const authorized = decisionRecorded('authorize-western-response');

    it('activates the Western-backed force at tier 3 once a decision authorized it', () => {
      spec
        .given(reported(), confirmed(), assessed('large-scale'), authorized)
        .when(activateWesternResponse)
        .then([{ type: 'WesternResponseActivated', data: activateWesternResponse.data }]);
    });

    it('activates it under a decision recorded before tier 3', () => {
      spec
        .given(reported(), confirmed(), authorized, assessed('large-scale'))
        .when(activateWesternResponse)
        .then([{ type: 'WesternResponseActivated', data: activateWesternResponse.data }]);
    });

    it.each([
      ['no decision', []],
      [
        'only other decisions',
        [decisionRecorded('authorize-warning'), decisionRecorded('authorize-coalition-deployment')],
      ],
    ])('refuses it with %s (409 no-authorizing-decision)', (_name, decisions) => {
      spec
        .given(reported(), confirmed(), assessed('large-scale'), ...decisions)
        .when(activateWesternResponse)
        .thenThrows(IllegalStateError, 'no-authorizing-decision');
    });

    it.each([
      ['tier 1', [reported(), confirmed()]],
      ['tier 2', [reported(), confirmed(), hostilitiesPersisted()]],
      [
        'tier 2 after a sustained assessment',
        [reported(), confirmed(), hostilitiesPersisted(), assessed('sustained')],
      ],
    ])('refuses it at %s (409 not-large-scale)', (_name, facts) => {
      spec
        .given(...facts)
        .when(activateWesternResponse)
        .thenThrows(IllegalStateError, 'not-large-scale');
    });

    it.each([[['GB air', 'FR air']], [[]]])(
      'refuses an activation without a US element %j (409 no-us-element)',
      (elements) => {
        spec
          .given(reported(), confirmed(), assessed('large-scale'), authorized)
          .when({ type: 'ActivateWesternResponse', data: { elements, reference: 'op-2' } })
          .thenThrows(IllegalStateError, 'no-us-element');
      },
    );
  });

  describe('RecordDecision', () => {
    const dataOf = (decision: Decision) => ({
      authority: 'joint-council',
      decision,
      rationale: 'the plan',
    });
    const decisionOf = (decision: Decision): IncidentCommand => ({
      type: 'RecordDecision',
      data: dataOf(decision),
    });

    it('records a decision authorize-warning once the breach is confirmed', () => {
      spec
        .given(reported(), confirmed())
        .when(recordDecision)
        .then([{ type: 'DecisionRecorded', data: recordDecision.data }]);
    });

    it.each([
      ['while verifying', [reported()], 'not-confirmed'],
      ['after rejection', [reported(), rejected()], 'incident-rejected'],
    ])(
      'refuses authorize-warning %s: it could never take effect (409 %s)',
      (_name, facts, reason) => {
        spec
          .given(...facts)
          .when(recordDecision)
          .thenThrows(IllegalStateError, reason);
      },
    );

    it.each([
      ['while verifying', [reported()]],
      ['after rejection', [reported(), rejected()]],
      ['once open', [reported(), confirmed()]],
    ])('records other decisions %s', (_name, facts) => {
      for (const decision of <Decision[]>[
        'authorize-coalition-deployment',
        'authorize-western-response',
        'stand-down',
        'other',
      ])
        spec
          .given(...facts)
          .when(decisionOf(decision))
          .then([{ type: 'DecisionRecorded', data: dataOf(decision) }]);
    });
  });

  describe('AnswerTask', () => {
    it('acknowledges a task addressed to the ministry of that member', () => {
      spec
        .given(...tier2WithTask)
        .when(answer('task-gb-land', 'acknowledge'), { actor: ministryOf('GB') })
        .then([{ type: 'CoalitionTaskAcknowledged', data: { taskId: 'task-gb-land' } }]);
    });

    it('declines with the reason', () => {
      spec
        .given(...tier2WithTask)
        .when(answer('task-gb-land', 'decline', 'no assets in range'), { actor: ministryOf('GB') })
        .then([
          {
            type: 'CoalitionTaskDeclined',
            data: { taskId: 'task-gb-land', reason: 'no assets in range' },
          },
        ]);
    });

    it('completes an acknowledged task', () => {
      spec
        .given(...tier2WithTask, taskAnswered('CoalitionTaskAcknowledged', 'task-gb-land'))
        .when(answer('task-gb-land', 'complete'), { actor: ministryOf('GB') })
        .then([{ type: 'CoalitionTaskCompleted', data: { taskId: 'task-gb-land' } }]);
    });

    it('refuses an unknown task (404)', () => {
      spec
        .given(...tier2WithTask)
        .when(answer('task-xx', 'acknowledge'), { actor: ministryOf('GB') })
        .thenThrows(NotFoundError);
    });

    it('refuses the ministry of another member (403 not-task-member)', () => {
      spec
        .given(...tier2WithTask)
        .when(answer('task-gb-land', 'acknowledge'), { actor: ministryOf('FR') })
        .thenThrows(ForbiddenError, 'not-task-member');
    });

    it.each([
      ['acknowledge', 'CoalitionTaskAcknowledged', 'acknowledge'],
      ['decline', 'CoalitionTaskAcknowledged', 'decline'],
      ['acknowledge', 'CoalitionTaskDeclined', 'acknowledge'],
      ['complete', 'CoalitionTaskDeclined', 'complete'],
      ['complete', 'CoalitionTaskCompleted', 'complete'],
    ] as const)(
      'refuses to %s a task after %s (409 task-already-answered)',
      (_verb, answeredBy, kind) => {
        spec
          .given(...tier2WithTask, taskAnswered(answeredBy, 'task-gb-land'))
          .when(answer('task-gb-land', kind), { actor: ministryOf('GB') })
          .thenThrows(IllegalStateError, 'task-already-answered');
      },
    );
  });

  describe('ResolveIncident', () => {
    it('resolves an open incident', () => {
      spec
        .given(reported(), confirmed())
        .when(resolveIncident)
        .then([{ type: 'IncidentResolved', data: { resolution: 'ceased' } }]);
    });
  });

  describe('after resolution', () => {
    const commands: [string, IncidentCommand, Actor][] = [
      ['SubmitFinding', findingOf('UA'), verifierOf('UA')],
      ['OverrideVerdict', overrideRejected, operator],
      ...byOperator(measures),
      ['RecordDecision', recordDecision, operator],
      ['AnswerTask', answer('task-gb-land', 'acknowledge'), ministryOf('GB')],
      ['ResolveIncident', resolveIncident, operator],
    ];

    it.each(commands)('refuses %s (409 incident-resolved)', (_name, command, actor) => {
      spec
        .given(...tier2WithTask, assessed('large-scale'), resolved())
        .when(command, { actor })
        .thenThrows(IllegalStateError, 'incident-resolved');
    });

    it('refuses a new report of the same incident (409 incident-exists)', () => {
      spec
        .given(reported(), resolved())
        .when(reportBreach)
        .thenThrows(IllegalStateError, 'incident-exists');
    });

    it('refuses a finding on an incident resolved while verifying (409 incident-resolved)', () => {
      spec
        .given(reported(), verificationRequested(), resolved())
        .when(findingOf('UA'), { actor: verifierOf('UA') })
        .thenThrows(IllegalStateError, 'incident-resolved');
    });
  });
});

describe('receipts and delivery records', () => {
  const delivered = {
    partner: 'GB',
    subject: 'tier-change',
    tier: 1,
    channel: 'webhook',
    reference: 'delivery-1',
  } as const;

  it('keeps a receipt, even after resolution, with an id from the partner and the notice', () => {
    spec
      .given(reported(), confirmed(), resolved())
      .when(
        { type: 'AcknowledgeNotice', data: { partner: 'gb', eventId: 'notice-1' } },
        { actor: ministryOf('GB') },
      )
      .then([
        {
          type: 'NoticeAcknowledged',
          data: { partner: 'GB', eventId: 'notice-1' },
          id: 'GB:notice-1:ack',
        },
      ]);
  });

  it('keeps a delivery record, even after resolution, with an id from the delivery', () => {
    spec
      .given(reported(), resolved())
      .when({ type: 'RecordDelivery', data: delivered })
      .then([{ type: 'NotificationDelivered', data: delivered, id: 'delivery-1:delivered' }]);
  });

  it('refuses both for an incident that does not exist', () => {
    spec.given().when({ type: 'RecordDelivery', data: delivered }).thenThrows(NotFoundError);
  });
});
