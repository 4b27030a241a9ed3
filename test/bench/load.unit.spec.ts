import { once } from 'node:events';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { drive, paced, summariseArrivals } from './load';

describe(drive.name, () => {
  // On the fake clock no time passes between the writers' starts or between one call's end and
  // the next, so the counts do not depend on how loaded the machine is: on the real one, a pause
  // of 30 ms while the writers were being started (load 11) left the later writers no time to call.
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('counts every operation of every concurrent writer', async () => {
    let calls = 0;
    const driven = drive(8, 30, async () => {
      calls += 1;
      await new Promise((resolve) => setTimeout(resolve, 1));
      return 10;
    });
    await jest.advanceTimersByTimeAsync(30);
    const result = await driven;
    // Each of the eight writers calls at 0, 1, ... 29 ms, its calls ending together with the
    // others': `events += await once()` reads `events` before the await, so it would count the
    // eight calls of each millisecond as one (300 instead of 2400).
    expect(calls).toBe(8 * 30);
    expect(result.count).toBe(calls * 10);
  });
});

describe(paced.name, () => {
  /** A server answering 201, or 500 to every tenth request; records when request n arrived. */
  async function server(): Promise<{
    url: string;
    arrivals: Map<number, number>;
    close: () => void;
  }> {
    const arrivals = new Map<number, number>();
    const http = createServer((req, res) => {
      const at = performance.now();
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.once('end', () => {
        const { n } = JSON.parse(Buffer.concat(chunks).toString()) as { n: number };
        arrivals.set(n, at);
        res.statusCode = n % 10 === 9 ? 500 : 201;
        res.end('{}');
      });
    });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const { port } = http.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, arrivals, close: () => http.close() };
  }

  it('sends no request before its time, so the rate is spread over each second', async () => {
    const { url, arrivals, close } = await server();
    try {
      const before = performance.now();
      const result = await paced(
        url,
        1,
        (n) => ({ method: 'POST', path: '/x', body: `{"n":${n}}` }),
        {},
        100,
      );
      expect(arrivals.size).toBe(100);
      // Request n is due 10·n ms after the start: a burst (autocannon's `overallRate`) sends
      // them all at once. A slow machine only makes them later.
      const early = [...arrivals].filter(([n, at]) => at - before < n * 10 - 1);
      expect(early).toEqual([]);
      expect(result.count).toBe(90);
      expect(result.failed).toBe(10);
    } finally {
      close();
    }
  });
});

describe(summariseArrivals.name, () => {
  it('counts only the run’s own messages, and the missing ones as never received', () => {
    // A warm-up that did not drain: two of its notices arrive among the measured ones, and
    // one measured notice never does. Counted by size (3 + 2 for 4 sent), the late warm-up
    // notices hid the lost one and made the unreceived count negative (an invalid array length).
    const latencies = new Map([
      ['warm-1', 900],
      ['m-1', 10],
      ['m-2', 20],
      ['warm-2', 950],
      ['m-3', 30],
    ]);
    const run = summariseArrivals(['m-1', 'm-2', 'm-3', 'm-4'], latencies);
    expect(run).toEqual({ sent: 4, received: 3, p50: 30, p99: Infinity, max: Infinity });
  });

  it('gives the percentiles of a run that received everything', () => {
    const sent = Array.from({ length: 100 }, (_, i) => `m-${i}`);
    const run = summariseArrivals(sent, new Map(sent.map((id, i) => [id, 100 - i])));
    expect(run).toEqual({ sent: 100, received: 100, p50: 51, p99: 100, max: 100 });
  });
});
