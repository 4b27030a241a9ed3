import { DEFAULT_SECTOR, h, incidentSpec, INCIDENT_ID, reported } from '@truceline/testing';
import { POLICY_V1 } from '../policy/policy';
import { repeatedViolation, SectorConfirmation } from './repeated-violation';
import { initialIncidentState } from './state';

/** This incident is reported at T0; the others' reports are placed in hours relative to it. */
const thisReport = () =>
  incidentSpec()
    .given(reported({ occurredAt: h(0) }))
    .state();
const others = (...hours: number[]): SectorConfirmation[] =>
  hours.map((hour) => ({ incidentId: `other${hour}h`, reportedAt: h(hour) }));

describe(repeatedViolation.name, () => {
  const sut = repeatedViolation;

  it('finds a repeated violation in 3 confirmed breaches within 168 h, naming the other two', () => {
    expect(sut(thisReport(), others(-30, -100), POLICY_V1)).toEqual({
      sector: DEFAULT_SECTOR,
      windowHours: 168,
      incidentIds: ['other-100h', 'other-30h'],
    });
  });

  it('finds none in 2 confirmed breaches', () => {
    expect(sut(thisReport(), others(-30), POLICY_V1)).toBeNull();
  });

  it('finds none without other confirmed breaches', () => {
    expect(sut(thisReport(), [], POLICY_V1)).toBeNull();
  });

  it('finds none when the reports lie more than 168 h apart', () => {
    expect(sut(thisReport(), others(-10, -169), POLICY_V1)).toBeNull();
  });

  it('counts reports exactly 168 h apart as within the window', () => {
    expect(sut(thisReport(), others(-1, -168), POLICY_V1)?.incidentIds).toEqual([
      'other-168h',
      'other-1h',
    ]);
  });

  it('finds a window around this report: -100 h and +60 h lie within 160 h of each other', () => {
    expect(sut(thisReport(), others(-100, 60), POLICY_V1)?.incidentIds).toEqual([
      'other-100h',
      'other60h',
    ]);
  });

  it('finds a window opening at this report: +100 h and +160 h', () => {
    expect(sut(thisReport(), others(100, 160), POLICY_V1)?.incidentIds).toEqual([
      'other100h',
      'other160h',
    ]);
  });

  it('finds none when each other report is within 168 h of this one but they span 300 h', () => {
    expect(sut(thisReport(), others(-150, 150), POLICY_V1)).toBeNull();
  });

  it('names only the breaches inside the window', () => {
    expect(sut(thisReport(), others(-300, -10, 20, 400), POLICY_V1)?.incidentIds).toEqual([
      'other-10h',
      'other20h',
    ]);
  });

  it('does not count this incident among the others', () => {
    const self: SectorConfirmation = { incidentId: INCIDENT_ID, reportedAt: h(0) };

    expect(sut(thisReport(), [self, ...others(-5)], POLICY_V1)).toBeNull();
  });

  it('applies the thresholds of the policy it is given', () => {
    const policy = { ...POLICY_V1, repeatedViolation: { confirmedBreaches: 2, windowHours: 24 } };

    expect(sut(thisReport(), others(-20), policy)).toEqual({
      sector: DEFAULT_SECTOR,
      windowHours: 24,
      incidentIds: ['other-20h'],
    });
    expect(sut(thisReport(), others(-25), policy)).toBeNull();
  });

  it('finds none for an incident that was never reported', () => {
    expect(sut(initialIncidentState(), others(-1, -2), POLICY_V1)).toBeNull();
  });
});
