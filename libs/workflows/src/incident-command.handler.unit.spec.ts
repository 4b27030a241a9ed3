import { COMMAND_RETRY, conflictDelayMs } from './incident-command.handler';

describe(conflictDelayMs.name, () => {
  it('spreads a retry over the whole exponential window (full jitter)', () => {
    expect(conflictDelayMs(1, COMMAND_RETRY, () => 0)).toBe(0);
    expect(conflictDelayMs(1, COMMAND_RETRY, () => 0.5)).toBe(5);
    expect(conflictDelayMs(4, COMMAND_RETRY, () => 0.999)).toBe(80);
  });

  it('never waits longer than the cap', () => {
    expect(conflictDelayMs(COMMAND_RETRY.attempts, COMMAND_RETRY, () => 1)).toBe(
      COMMAND_RETRY.maxMs,
    );
  });
});
