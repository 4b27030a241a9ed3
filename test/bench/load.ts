import { Agent, request as httpRequest } from 'node:http';

export interface LoadResult {
  /** Events (or requests) per second: `count` over the wall time of the concurrent phase. */
  rate: number;
  /** Events (or requests) completed in the run. */
  count?: number;
  p50: number;
  p99: number;
  /** Requests answered with an error (HTTP figures). */
  failed?: number;
}

/**
 * Runs `writers` loops for `durationMs`, each calling `once(writer, i)` back to back; `once`
 * resolves to the number of events it wrote. Latencies are per call, in milliseconds. The clock is
 * the global `performance` (not node:perf_hooks' own binding), which jest's fake timers replace:
 * the unit spec runs it on a clock that only moves when told to.
 */
export async function drive(
  writers: number,
  durationMs: number,
  once: (writer: number, i: number) => Promise<number>,
): Promise<LoadResult> {
  const latencies: number[] = [];
  let events = 0;
  const started = performance.now();
  const endAt = started + durationMs;
  await Promise.all(
    Array.from({ length: writers }, async (_, writer) => {
      for (let i = 0; performance.now() < endAt; i++) {
        const at = performance.now();
        // Not `events += await once(…)`: that reads `events` before the await, so concurrent
        // writers overwrite each other's counts and the rate comes out about 1/writers of the truth.
        const written = await once(writer, i);
        latencies.push(performance.now() - at);
        events += written;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { rate: events / seconds, count: events, ...percentiles(latencies) };
}

export function percentiles(latencies: number[]): { p50: number; p99: number } {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { p50: at(0.5), p99: at(0.99) };
}

/**
 * An open-loop run's latencies (ms) over the messages it sent, matched by id: `latencies` may
 * hold ids of other runs (late arrivals of a warm-up), which do not count here. A message sent
 * but not received counts as infinitely late, and `received` says how many did arrive.
 */
export function summariseArrivals(
  sent: readonly string[],
  latencies: ReadonlyMap<string, number>,
): { sent: number; received: number; p50: number; p99: number; max: number } {
  const all = sent.map((id) => latencies.get(id) ?? Infinity);
  const received = all.filter((latency) => latency !== Infinity).length;
  const sorted = all.sort((a, b) => a - b);
  return {
    sent: sent.length,
    received,
    ...percentiles(sorted),
    max: sorted[sorted.length - 1] ?? 0,
  };
}

/** The run whose rate is the median of the runs (with that same run's latencies). */
export function median<T extends LoadResult>(results: T[]): T {
  const sorted = [...results].sort((a, b) => a.rate - b.rate);
  return sorted[Math.floor(sorted.length / 2)];
}

/** An HTTP request of a load: method, path and (JSON) body. */
export type RequestOf = (n: number) => { method: 'GET' | 'POST'; path: string; body?: string };

/**
 * HTTP requests at an even pace, `rate` a second for `durationS` (open loop): request n is due
 * n / rate seconds after the start and goes then, on a free one of `connections` keep-alive
 * connections or as soon as one is free; its latency (ms) runs from when it was due, so a wait
 * for a connection counts. The rate is the 2xx answers over the time to the last answer.
 *
 * Not autocannon's `overallRate`: that gives each connection its share of a second
 * (rate / connections) to send back to back when the connection's one-second timer ticks, and
 * the timers of all the connections tick together, so 200/s on 64 connections arrives as a
 * burst of 200 requests, 64 at a time, at the start of every second, and its p99 is the time
 * the server takes to answer the whole burst.
 */
export async function paced(
  url: string,
  durationS: number,
  request: RequestOf,
  headers: Record<string, string>,
  rate: number,
  connections = 64,
): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const { hostname, port } = new URL(url);
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  let lastAnswer = 0;
  const send = (n: number, due: number) =>
    new Promise<void>((resolve) => {
      const next = request(n);
      let answered = false;
      const done = (success: boolean) => {
        if (answered) return;
        answered = true;
        lastAnswer = performance.now();
        if (success) {
          ok += 1;
          latencies.push(lastAnswer - due);
        } else failed += 1;
        resolve();
      };
      const req = httpRequest(
        {
          agent,
          hostname,
          port,
          method: next.method,
          path: next.path,
          headers: {
            'content-type': 'application/json',
            ...headers,
            ...(next.body !== undefined && { 'content-length': Buffer.byteLength(next.body) }),
          },
        },
        (res) => {
          const status = res.statusCode ?? 0;
          res.once('end', () => done(status >= 200 && status < 300));
          res.once('error', () => done(false));
          res.resume();
        },
      );
      req.once('error', () => done(false));
      req.end(next.body);
    });
  const sent: Promise<void>[] = [];
  const total = Math.round(durationS * rate);
  const started = performance.now();
  const dueAt = (n: number) => started + (n * 1000) / rate;
  for (let n = 0; n < total;) {
    // Every request due by now goes now: after a late timer, several at once.
    for (const now = performance.now(); n < total && dueAt(n) <= now; n++) {
      sent.push(send(n, dueAt(n)));
    }
    if (n < total) {
      const wait = dueAt(n) - performance.now();
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)));
    }
  }
  await Promise.all(sent);
  agent.destroy();
  if (failed > 0) console.warn(`  ${url}: ${failed} requests failed or answered other than 2xx`);
  return {
    rate: ok / Math.max((lastAnswer - started) / 1000, 1e-3),
    count: ok,
    ...percentiles(latencies),
    failed,
  };
}
