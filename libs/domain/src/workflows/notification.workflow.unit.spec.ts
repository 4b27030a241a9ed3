import {
  confirmed,
  decisionRecorded,
  eventIdAt,
  FactDraft,
  incidentSpec,
  rejected,
  reported,
  resolved,
} from '@truceline/testing';
import { IllegalStateError } from '../errors/errors';
import { DECISIONS } from '../events/events';
import { warningReactions } from './notification.workflow';

const spec = incidentSpec();
const channel = { channel: 'osce-hotline', recipient: 'RU-MFA' };

describe(warningReactions.name, () => {
  /** The decision is the last fact given; the reaction answers it. */
  const sut = (...facts: FactDraft[]) =>
    warningReactions(spec.given(...facts).state(), eventIdAt(facts.length - 1), channel, 'W-1');

  it('issues the warning through the agreed channel for authorize-warning on a confirmed breach', () => {
    expect(sut(reported(), confirmed(), decisionRecorded('authorize-warning'))).toEqual([
      {
        type: 'WarningIssued',
        data: { channel: 'osce-hotline', recipient: 'RU-MFA', reference: 'W-1' },
      },
    ]);
  });

  it.each(DECISIONS.filter((d) => d !== 'authorize-warning'))(
    'issues nothing for %s',
    (decision) => {
      expect(sut(reported(), confirmed(), decisionRecorded(decision))).toEqual([]);
    },
  );

  it('issues nothing for a decision the incident does not hold', () => {
    const state = spec
      .given(reported(), confirmed(), decisionRecorded('authorize-warning'))
      .state();

    expect(warningReactions(state, 'unknown-decision', channel, 'W-1')).toEqual([]);
  });
});

describe('IssueWarning (the system command)', () => {
  const issue = (decisionEventId: string) =>
    ({
      type: 'IssueWarning',
      data: { ...channel, decisionEventId, reference: 'W-1' },
    }) as const;

  it('issues the warning once per decision: its id derives from the decision', () => {
    spec
      .given(reported(), confirmed(), decisionRecorded('authorize-warning'))
      .when(issue(eventIdAt(2)))
      .then([
        {
          type: 'WarningIssued',
          data: { channel: 'osce-hotline', recipient: 'RU-MFA', reference: 'W-1' },
          id: `${eventIdAt(2)}:warning`,
        },
      ]);
  });

  it.each([
    ['while verifying', [reported()], 'not-confirmed'],
    ['after rejection', [reported(), rejected()], 'incident-rejected'],
    ['after resolution', [reported(), confirmed(), resolved()], 'incident-resolved'],
  ])('is refused %s, as every warning is', (_name, facts, reason) => {
    spec
      .given(...facts, decisionRecorded('authorize-warning'))
      .when(issue(eventIdAt(facts.length)))
      .thenThrows(IllegalStateError, reason);
  });
});
