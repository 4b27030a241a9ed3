import { PassThrough } from 'node:stream';
import { progressReporter } from './progress';

const stream = (isTTY: boolean) => Object.assign(new PassThrough(), { isTTY }) as never;

describe(progressReporter.name, () => {
  it('writes one plain line per tenth done when stderr is not a terminal', () => {
    const lines: string[] = [];
    const sut = progressReporter(
      { out: () => undefined, err: (l) => lines.push(l) },
      stream(false),
    );

    for (let done = 0; done <= 1000; done += 50)
      sut.update({ projection: 'incidents', done, total: 1000, position: done });
    sut.stop();

    expect(lines).toHaveLength(11);
    expect(lines[0]).toMatch(/^incidents: 0% \(0\/1000 events, \d+ events\/s, ETA .+\)$/);
    expect(lines[10]).toMatch(/^incidents: 100% \(1000\/1000 events/);
  });

  it('draws a bar with events, events/s and ETA on a terminal', () => {
    const tty = stream(true) as PassThrough & { columns?: number; cursorTo?: unknown };
    let drawn = '';
    Object.assign(tty, {
      columns: 120,
      cursorTo: () => true,
      clearLine: () => true,
      moveCursor: () => true,
    });
    tty.on('data', (chunk: Buffer) => (drawn += chunk.toString()));
    const lines: string[] = [];
    const sut = progressReporter({ out: () => undefined, err: (l) => lines.push(l) }, tty as never);

    sut.update({ projection: 'feeds', done: 0, total: 400, position: 0 });
    sut.update({ projection: 'feeds', done: 400, total: 400, position: 400 });
    sut.stop();

    expect(lines).toEqual([]);
    expect(drawn).toMatch(/feeds \[.*\] 100% \| 400\/400 events \| \d+ events\/s \| ETA/);
  });
});
