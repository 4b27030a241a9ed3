import { performance } from 'node:perf_hooks';

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
 * resolves to the number of events it wrote. Latencies are per call, in milliseconds.
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

/** The run whose rate is the median of the runs (with that same run's latencies). */
export function median<T extends LoadResult>(results: T[]): T {
  const sorted = [...results].sort((a, b) => a.rate - b.rate);
  return sorted[Math.floor(sorted.length / 2)];
}
