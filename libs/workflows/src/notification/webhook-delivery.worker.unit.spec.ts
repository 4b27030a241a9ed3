import { DEFAULT_RETRY, retryDelayMs } from './webhook-delivery.worker';

describe(retryDelayMs.name, () => {
  const middle = () => 0.5; // no jitter

  it('doubles from 0.5 s with every failure', () => {
    expect([1, 2, 3, 4, 5].map((n) => retryDelayMs(n, DEFAULT_RETRY, middle))).toEqual([
      500, 1000, 2000, 4000, 8000,
    ]);
  });

  it('is capped at 5 minutes, jitter included', () => {
    expect(retryDelayMs(10, DEFAULT_RETRY, middle)).toBe(256_000);
    expect(retryDelayMs(11, DEFAULT_RETRY, middle)).toBe(300_000);
    expect(retryDelayMs(11, DEFAULT_RETRY, () => 0.999999)).toBe(300_000);
    expect(retryDelayMs(60, DEFAULT_RETRY, middle)).toBe(300_000);
  });

  it('spreads retries over ±20 % so a partner outage does not end in a burst', () => {
    expect(retryDelayMs(3, DEFAULT_RETRY, () => 0)).toBe(1600);
    expect(retryDelayMs(3, DEFAULT_RETRY, () => 0.999999)).toBe(2400);
    expect(retryDelayMs(11, DEFAULT_RETRY, () => 0)).toBe(240_000);
  });
});
