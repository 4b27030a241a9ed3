import {
  confirmed,
  DEFAULT_SECTOR,
  findingBy,
  h,
  INCIDENT_ID,
  incidentSpec,
  rejected,
  reported,
  resolved,
  service,
  verificationRequested,
} from '@truceline/testing';
import { IllegalStateError, NotFoundError } from '../errors/errors';
import { SectorConfirmation } from '../incident/repeated-violation';
import { IncidentState } from '../incident/state';
import { POLICY_V1 } from '../policy/policy';
import { verificationReactions } from './verification.workflow';

const spec = incidentSpec();
const ctx = (sectorConfirmations: SectorConfirmation[] = []) => ({
  actor: service,
  policy: POLICY_V1,
  occurredAt: h(9),
  sectorConfirmations,
});

describe(verificationReactions.name, () => {
  const sut = (state: IncidentState, sectorConfirmations?: SectorConfirmation[]) =>
    verificationReactions(state, ctx(sectorConfirmations));

  it('asks the verifier roster, due the report occurredAt + 6 h', () => {
    const state = spec.given(reported({ occurredAt: h(-2), recordedAt: h(3) })).state();

    expect(sut(state)).toEqual([
      {
        type: 'VerificationRequested',
        data: { verifiers: ['UA', 'US', 'GB', 'FR'], dueAt: h(4) },
      },
    ]);
  });

  it('asks only once', () => {
    expect(sut(spec.given(reported(), verificationRequested()).state())).toEqual([]);
  });

  it('confirms by quorum after 2 distinct verifiers report confirmed, citing their findings', () => {
    const given = spec.given(
      reported(),
      verificationRequested(),
      findingBy('UA', 'confirmed'),
      findingBy('GB', 'inconclusive'),
      findingBy('US', 'confirmed'),
    );

    expect(sut(given.state())).toEqual([
      {
        type: 'BreachConfirmed',
        data: { basis: 'quorum', findings: [given.facts[2].id, given.facts[4].id] },
      },
    ]);
  });

  it('records the repeated violation of the sector in the quorum confirmation', () => {
    const given = spec.given(
      reported({ occurredAt: h(0) }),
      verificationRequested(),
      findingBy('UA', 'confirmed'),
      findingBy('FR', 'confirmed'),
    );

    expect(
      sut(given.state(), [
        { incidentId: 'other-1', reportedAt: h(-48) },
        { incidentId: 'other-2', reportedAt: h(-24) },
      ]),
    ).toEqual([
      {
        type: 'BreachConfirmed',
        data: {
          basis: 'quorum',
          findings: [given.facts[2].id, given.facts[3].id],
          repeatedViolation: {
            sector: DEFAULT_SECTOR,
            windowHours: 168,
            incidentIds: ['other-1', 'other-2'],
          },
        },
      },
    ]);
  });

  it('rejects by quorum after 2 distinct verifiers report not-confirmed', () => {
    const given = spec.given(
      reported(),
      verificationRequested(),
      findingBy('GB', 'not-confirmed'),
      findingBy('FR', 'not-confirmed'),
    );

    expect(sut(given.state())).toEqual([
      {
        type: 'BreachRejected',
        data: {
          basis: 'quorum',
          reason: 'not confirmed by GB, FR',
          findings: [given.facts[2].id, given.facts[3].id],
        },
      },
    ]);
  });

  it('does not count inconclusive findings', () => {
    const state = spec
      .given(
        reported(),
        verificationRequested(),
        findingBy('UA', 'confirmed'),
        findingBy('US', 'inconclusive'),
        findingBy('GB', 'inconclusive'),
      )
      .state();

    expect(sut(state)).toEqual([]);
  });

  it('stays verifying with 1 confirmed and 1 not-confirmed', () => {
    const state = spec
      .given(
        reported(),
        verificationRequested(),
        findingBy('UA', 'confirmed'),
        findingBy('US', 'not-confirmed'),
      )
      .state();

    expect(sut(state)).toEqual([]);
    expect(state.status).toBe('verifying');
  });

  it('does not count the finding of a verifier outside the request', () => {
    const state = spec
      .given(
        reported(),
        findingBy('GB', 'confirmed'),
        verificationRequested({ verifiers: ['UA', 'US'] }),
        findingBy('UA', 'confirmed'),
      )
      .state();

    expect(sut(state)).toEqual([]);
  });

  it('counts verifiers, not findings: two findings of one verifier are no quorum', () => {
    const state = spec
      .given(
        reported(),
        verificationRequested(),
        findingBy('UA', 'confirmed'),
        findingBy('UA', 'confirmed'),
      )
      .state();

    expect(sut(state)).toEqual([]);
  });
});

describe('Verify (the system command)', () => {
  const verify = { type: 'Verify', data: {} } as const;

  it('gives the request and the verdict ids derived from the incident, once each', () => {
    spec
      .given(reported(), verificationRequested(), findingBy('UA', 'confirmed'))
      .when(verify, { sectorConfirmations: [] })
      .then([]);
    spec
      .given(reported({ occurredAt: h(0) }))
      .when(verify)
      .then([
        {
          type: 'VerificationRequested',
          data: { verifiers: ['UA', 'US', 'GB', 'FR'], dueAt: h(6) },
          id: `${INCIDENT_ID}:verification:VerificationRequested`,
        },
      ]);
  });

  it('dates a verdict when the finding completing the quorum occurred, whichever finding it answers', () => {
    const given = spec.given(
      reported(),
      verificationRequested(),
      findingBy('UA', 'confirmed', { occurredAt: h(2) }),
      findingBy('US', 'confirmed', { occurredAt: h(3) }),
    );

    given.when(verify, { occurredAt: h(2) }).then([
      {
        type: 'BreachConfirmed',
        data: { basis: 'quorum', findings: [given.facts[2].id, given.facts[3].id] },
        id: `${INCIDENT_ID}:verification:BreachConfirmed`,
        occurredAt: h(3),
      },
    ]);
  });

  it.each([
    ['once confirmed', [confirmed()], 'verification-closed'],
    ['once rejected', [rejected()], 'verification-closed'],
    ['once resolved', [resolved()], 'incident-resolved'],
  ])('is refused %s', (_name, verdict, reason) => {
    spec
      .given(
        reported(),
        verificationRequested(),
        findingBy('UA', 'confirmed'),
        findingBy('US', 'confirmed'),
        ...verdict,
      )
      .when(verify)
      .thenThrows(IllegalStateError, reason);
  });

  it('is refused for an incident never reported', () => {
    spec.given().when(verify).thenThrows(NotFoundError);
  });
});
