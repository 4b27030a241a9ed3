import { addHours, knownPartners, POLICY_V1, policyAdoptedData, policyOfAdoption } from './policy';

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

  it('answers again as the first time, and refuses what is no instant every time', () => {
    for (let i = 0; i < 2_500; i++) {
      const iso = new Date(Date.UTC(2026, 2, 2) + (i % 1_200) * 60_000).toISOString();
      expect(sut(iso, i % 7)).toBe(new Date(Date.parse(iso) + (i % 7) * 3_600_000).toISOString());
    }
    expect(() => sut('not an instant', 1)).toThrow(RangeError);
    expect(() => sut('not an instant', 1)).toThrow(RangeError);
  });
});

describe('EscalationPolicyAdopted data', () => {
  const { version: _version, ...V1_DOCUMENT } = POLICY_V1;

  it('is { version, policy } with the document the operator submitted (SPEC §3, §4)', () => {
    expect(policyAdoptedData(POLICY_V1)).toEqual({ version: 1, policy: V1_DOCUMENT });
  });

  it('reads back the policy it was written from', () => {
    const v2 = { ...POLICY_V1, version: 2, warningWindowHours: 0.5 };

    expect(policyOfAdoption(policyAdoptedData(v2))).toEqual(v2);
  });

  it('reads the flat shape of logs written before, without rewriting them', () => {
    const stored = { ...POLICY_V1, version: 3 };

    expect(policyOfAdoption(stored)).toEqual({ ...POLICY_V1, version: 3 });
  });

  it('takes the version from the event, not from inside the document', () => {
    const data = { version: 4, policy: { ...V1_DOCUMENT, version: 9 } };

    expect(policyOfAdoption(data).version).toBe(4);
  });
});
