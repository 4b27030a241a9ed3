import { aggregateObligations, expectationMismatches, IncidentSnapshot } from './expectations';

const snapshot = (overrides: Partial<IncidentSnapshot> = {}): IncidentSnapshot => ({
  tier: 1,
  status: 'open',
  obligations: [
    { kind: 'verification', status: 'met' },
    { kind: 'warning', status: 'open' },
  ],
  coalitionTasks: [],
  ...overrides,
});

describe('aggregateObligations', () => {
  const of = (...statuses: string[]) =>
    aggregateObligations(statuses.map((status) => ({ kind: 'coalition-ack', status })))[
      'coalition-ack'
    ];

  it('counts a kind as missed when any of its obligations was missed', () => {
    expect(of('met', 'missed', 'open')).toBe('missed');
  });

  it('counts it as open when none was missed and any is open', () => {
    expect(of('met', 'open', 'closed')).toBe('open');
  });

  it('counts it as closed only when all are closed', () => {
    expect(of('closed', 'closed')).toBe('closed');
    expect(of('closed', 'met')).toBe('met');
  });

  it('counts it as met otherwise', () => {
    expect(of('met', 'met')).toBe('met');
  });

  it('keeps kinds apart', () => {
    expect(
      aggregateObligations([
        { kind: 'verification', status: 'met' },
        { kind: 'warning', status: 'missed' },
        { kind: 'coalition-ack', status: 'open' },
      ]),
    ).toEqual({ verification: 'met', warning: 'missed', 'coalition-ack': 'open' });
  });
});

describe('expectationMismatches', () => {
  it('is empty when everything expected holds', () => {
    expect(
      expectationMismatches(
        { tier: 1, status: 'open', obligations: { verification: 'met', warning: 'open' } },
        snapshot(),
      ),
    ).toEqual([]);
  });

  it('names each mismatch with what was expected and what was found', () => {
    const sut = expectationMismatches(
      { tier: 2, obligations: { warning: 'missed', 'western-response': 'open' }, tasks: 9 },
      snapshot(),
    );

    expect(sut).toEqual([
      'tier: expected 2, got 1',
      'obligations.warning: expected missed, got open',
      'obligations.western-response: expected open, got (none)',
      'tasks: expected 9, got 0',
    ]);
  });

  it('checks deadlinesMissed against the counted DeadlineMissed events, 0 included', () => {
    expect(expectationMismatches({ deadlinesMissed: 0 }, snapshot({ deadlinesMissed: 1 }))).toEqual(
      ['deadlinesMissed: expected 0, got 1'],
    );
    expect(expectationMismatches({ deadlinesMissed: 0 }, snapshot({ deadlinesMissed: 0 }))).toEqual(
      [],
    );
  });
});
