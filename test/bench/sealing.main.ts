import { loadavg } from 'node:os';
import { Client } from 'pg';
import { startThrowawayPostgres } from '../../infra/postgres/pg-test-server';
import { appendWithSealing, sealingCost } from './sealing.bench';

/**
 * The sealing figure alone (`node dist/test/bench/sealing.main.js`), to repeat it and to profile
 * it with `node --cpu-prof`: BENCH_RUNS (3), BENCH_SECONDS (4), BENCH_SEALING=aa for an A/A run
 * (the sealer never started: the noise of the harness), BENCH_SEALING=cost for the CPU that
 * sealing BENCH_EVENTS (20,000) appended events costs, apart from the appends.
 */
async function main(): Promise<void> {
  const postgres = await startThrowawayPostgres();
  try {
    const client = new Client({ connectionString: postgres.url });
    await client.connect();
    await client.query('CREATE DATABASE bench_sealing');
    await client.end();
    const url = new URL(postgres.url);
    url.pathname = '/bench_sealing';
    const load = () =>
      loadavg()
        .map((l) => l.toFixed(1))
        .join(' ');
    const loadBefore = load();
    if (process.env.BENCH_SEALING === 'cost') {
      const events = Number(process.env.BENCH_EVENTS ?? 20_000);
      for (let run = 0; run < Number(process.env.BENCH_RUNS ?? 3); run++) {
        const cost = await sealingCost(url.toString(), events);
        console.log(
          `sealing ${cost.events} events: node ${cost.node.toFixed(1)} µs/event, ` +
            `postgres ${cost.postgres?.toFixed(1) ?? 'n/a'} µs/event; load ${load()}`,
        );
      }
      return;
    }
    const figures = await appendWithSealing(
      url.toString(),
      8,
      {
        runs: Number(process.env.BENCH_RUNS ?? 3),
        durationMs: Number(process.env.BENCH_SECONDS ?? 4) * 1000,
      },
      { aa: process.env.BENCH_SEALING === 'aa' },
    );
    console.log(JSON.stringify(figures));
    const cpu = figures.cpuPerEvent;
    const us = (side: { off: number; on: number } | undefined) =>
      side ? `${Math.round(side.off)} → ${Math.round(side.on)} µs` : 'n/a';
    console.log(
      `${process.env.BENCH_SEALING === 'aa' ? 'A/A (no sealer)' : 'sealing'}: ` +
        `on ${Math.round(figures.sealingOn.rate)} vs off ${Math.round(figures.sealingOff.rate)} ` +
        `events/s = ${(figures.sealingOn.rate / figures.sealingOff.rate).toFixed(2)}×, ` +
        `median pair ${figures.medianPairRatio.toFixed(2)}; CPU per event off → on: ` +
        `node ${us(cpu?.node)}, postgres ${us(cpu?.postgres)}; load ${loadBefore} → ${load()}`,
    );
  } finally {
    await postgres.stop();
  }
}

void main();
