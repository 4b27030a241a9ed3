import { PeriodicPass } from './periodic-pass';

describe(PeriodicPass.name, () => {
  const gate = () => {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    return { open, opened };
  };

  it('coalesces calls during a pass into one more pass after it', async () => {
    const first = gate();
    let passes = 0;
    const sut = new PeriodicPass(
      async () => {
        passes++;
        if (passes === 1) await first.opened;
      },
      60_000,
      () => undefined,
    );

    const running = sut.tick();
    void sut.tick();
    void sut.tick();
    first.open();
    await running;
    await new Promise((resolve) => setTimeout(resolve, 20));

    expect(passes).toBe(2);
  });

  it('runs nothing more once stopped, and stop waits for the pass in flight', async () => {
    const first = gate();
    let passes = 0;
    let finished = false;
    const sut = new PeriodicPass(
      async () => {
        passes++;
        await first.opened;
        finished = true;
      },
      60_000,
      () => undefined,
    );
    sut.start();

    void sut.tick();
    void sut.tick();
    const stopped = sut.stop();
    first.open();
    await stopped;

    expect(finished).toBe(true);
    expect(passes).toBe(1);
    expect(sut.started).toBe(false);
  });

  it('hands a failed pass to onError and keeps going', async () => {
    const errors: unknown[] = [];
    const sut = new PeriodicPass(
      () => Promise.reject(new Error('down')),
      60_000,
      (error) => errors.push(error),
    );

    await sut.tick();
    await sut.tick();

    expect(errors).toHaveLength(2);
  });
});
