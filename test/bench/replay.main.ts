import { createDatabase } from '@truceline/testing';
import { startThrowawayPostgres } from '../../infra/postgres/pg-test-server';
import { REPLAY_INCIDENTS, replayVsScan } from './replay.bench';

/**
 * The replay figure alone (`node dist/test/bench/replay.main.js`), for profiling it with
 * `node --cpu-prof`: BENCH_REPLAY_INCIDENTS (default 50,000: 500k events), BENCH_RUNS (3).
 */
async function main(): Promise<void> {
  const postgres = await startThrowawayPostgres();
  try {
    const figures = await replayVsScan(
      await createDatabase(postgres.url, 'bench_replay'),
      REPLAY_INCIDENTS,
      Number(process.env.BENCH_RUNS ?? 3),
    );
    console.log(JSON.stringify(figures));
    console.log(
      `replay of the incident view: ${Math.round(figures.replay)} events/s, raw scan + JSON.parse: ` +
        `${Math.round(figures.scan)} events/s, ratio ${(figures.replay / figures.scan).toFixed(2)} ` +
        `over ${figures.events} events`,
    );
    for (const [run, { replay, scan }] of figures.runs.entries())
      console.log(
        `run ${run + 1}: replay ${Math.round(replay.rate)}/s (CPU per event: node ` +
          `${replay.nodeCpuPerEvent.toFixed(1)} µs, PostgreSQL ${replay.postgresCpuPerEvent?.toFixed(1)} µs), ` +
          `scan ${Math.round(scan.rate)}/s (node ${scan.nodeCpuPerEvent.toFixed(1)} µs, ` +
          `PostgreSQL ${scan.postgresCpuPerEvent?.toFixed(1)} µs)`,
      );
  } finally {
    await postgres.stop();
  }
}

void main();
