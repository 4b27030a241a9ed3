import { canonicalJson, countByType, LoggedEvent, streamViolations } from './event-invariants';

const event = (overrides: Partial<LoggedEvent> & { revision: number }): LoggedEvent => ({
  id: `e${overrides.revision}`,
  type: 'BreachConfirmed',
  data: { basis: 'quorum' },
  ...overrides,
});

describe('canonicalJson', () => {
  it('ignores key order', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] })).toBe(
      canonicalJson({ a: [{ c: 3, d: 2 }], b: 1 }),
    );
  });
});

describe('streamViolations', () => {
  it('accepts a sound stream', () => {
    expect(
      streamViolations([event({ revision: 0, type: 'BreachReported' }), event({ revision: 1 })]),
    ).toEqual([]);
  });

  it('finds a repeated id, a revision out of place and a fact appended twice', () => {
    const sut = streamViolations([
      event({ revision: 0 }),
      event({ revision: 1, id: 'e0', type: 'WarningIssued' }),
      event({ revision: 3, type: 'DeadlineMissed' }),
      event({ revision: 3, id: 'e4', data: { basis: 'quorum' } }),
    ]);

    expect(sut).toEqual([
      'event id e0 appears twice',
      'event e3 (DeadlineMissed) has revision 3, expected 2',
      'BreachConfirmed appended twice with the same data (e0, e4)',
    ]);
  });
});

describe('countByType', () => {
  it('counts events per type', () => {
    expect(
      countByType([
        event({ revision: 0 }),
        event({ revision: 1, type: 'X' }),
        event({ revision: 2 }),
      ]),
    ).toEqual({ BreachConfirmed: 2, X: 1 });
  });
});
