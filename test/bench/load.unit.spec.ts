import { drive } from './load';

describe(drive.name, () => {
  it('counts every operation of every concurrent writer', async () => {
    let calls = 0;
    const result = await drive(8, 30, async () => {
      calls += 1;
      await new Promise((resolve) => setTimeout(resolve, 1));
      return 10;
    });
    // Every writer calls at least once, however slow the machine; that alone shows the lost
    // counts of `events += await once()` (eight calls counted as one).
    expect(calls).toBeGreaterThanOrEqual(8);
    expect(result.count).toBe(calls * 10);
  });
});
