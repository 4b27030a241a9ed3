import { addHours, knownPartners, POLICY_V1 } from './policy';

describe('POLICY_V1', () => {
  it('holds the settings of SPEC §3', () => {
    expect(POLICY_V1).toEqual({
      version: 1,
      verificationWindowHours: 6,
      verificationQuorum: 2,
      warningWindowHours: 24,
      coalitionAckWindowHours: 12,
      westernResponseWindowHours: 72,
      repeatedViolation: { confirmedBreaches: 3, windowHours: 168 },
      verifierRoster: ['UA', 'US', 'GB', 'FR'],
      coalitionRoster: [
        { member: 'GB', capabilities: ['land', 'air'] },
        { member: 'FR', capabilities: ['land', 'air'] },
        { member: 'DE', capabilities: ['air-defence'] },
        { member: 'PL', capabilities: ['land'] },
        { member: 'NO', capabilities: ['maritime'] },
        { member: 'IS', capabilities: ['logistics'] },
        { member: 'TR', capabilities: ['maritime'] },
      ],
      westernForceRoster: [
        { member: 'US', capabilities: ['intelligence', 'logistics', 'air'] },
        { member: 'GB', capabilities: ['air'] },
        { member: 'FR', capabilities: ['air'] },
      ],
    });
  });
});

describe(knownPartners.name, () => {
  const sut = knownPartners;

  it('lists every partner of the rosters with UA, US and EU, once each, sorted', () => {
    expect(sut(POLICY_V1)).toEqual(['DE', 'EU', 'FR', 'GB', 'IS', 'NO', 'PL', 'TR', 'UA', 'US']);
  });

  it('includes members a later policy adds to any roster', () => {
    const policy = {
      ...POLICY_V1,
      verifierRoster: ['UA', 'LT'],
      coalitionRoster: [{ member: 'IT', capabilities: ['land' as const] }],
      westernForceRoster: [{ member: 'CA', capabilities: ['air' as const] }],
    };

    expect(sut(policy)).toEqual(['CA', 'EU', 'IT', 'LT', 'UA', 'US']);
  });
});

describe(addHours.name, () => {
  const sut = addHours;

  it.each([
    ['2026-03-02T04:00:00.000Z', 6, '2026-03-02T10:00:00.000Z'],
    ['2026-03-02T04:00:00.000Z', 72, '2026-03-05T04:00:00.000Z'],
    ['2026-03-02T04:00:00.000Z', -168, '2026-02-23T04:00:00.000Z'],
    ['2026-03-02T04:00:00.000Z', 0.5, '2026-03-02T04:30:00.000Z'],
    ['2026-03-02T06:00:00+02:00', 24, '2026-03-03T04:00:00.000Z'],
    ['2026-03-29T00:30:00+01:00', 3, '2026-03-29T02:30:00.000Z'],
  ])('%s + %d h = %s (UTC, whatever the offset)', (iso, hours, expected) => {
    expect(sut(iso, hours)).toBe(expected);
  });
});
