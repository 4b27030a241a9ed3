import { describeShift, hoursAfter, scenarioTimeline } from './scenario-time';

describe('hoursAfter', () => {
  it('adds fractional hours', () => {
    expect(hoursAfter('2026-03-05T21:30:00Z', 26.1)).toBe('2026-03-06T23:36:00.000Z');
    expect(hoursAfter('2026-03-05T21:30:00Z', 25.9)).toBe('2026-03-06T23:24:00.000Z');
  });
});

describe('scenarioTimeline', () => {
  const start = '2026-03-02T04:00:00Z';

  it('keeps the scenario start when the clock has not reached it', () => {
    expect(scenarioTimeline(start, '2026-03-01T00:00:00.000Z')).toEqual({
      t0: '2026-03-02T04:00:00.000Z',
      shiftMs: 0,
    });
  });

  it('keeps the scenario start when the clock stands exactly there', () => {
    expect(scenarioTimeline(start, '2026-03-02T04:00:00.000Z').shiftMs).toBe(0);
  });

  it('moves T0 to the next whole minute when the clock is already past the start', () => {
    const sut = scenarioTimeline(start, '2026-03-07T16:00:12.345Z');

    expect(sut.t0).toBe('2026-03-07T16:01:00.000Z');
    expect(sut.shiftMs).toBe(Date.parse('2026-03-07T16:01:00Z') - Date.parse(start));
  });

  it('does not round a clock that stands on a whole minute', () => {
    expect(scenarioTimeline(start, '2026-03-07T16:00:00.000Z').t0).toBe('2026-03-07T16:00:00.000Z');
  });

  it('rejects what is not an instant', () => {
    expect(() => scenarioTimeline('soon', '2026-03-07T16:00:00Z')).toThrow(/not an ISO instant/);
  });
});

describe('describeShift', () => {
  it('reads as days, hours and minutes', () => {
    expect(describeShift(((5 * 24 + 12) * 60 + 1) * 60_000)).toBe('+5 d 12 h 1 min');
    expect(describeShift(2 * 3_600_000)).toBe('+2 h');
  });
});
