import { loadavg } from 'node:os';
import { Client } from 'pg';
import { startThrowawayPostgres } from '../../infra/postgres/pg-test-server';
import { appendWithSealing, CpuPerEvent, SealingFigures, sealingCost } from './sealing.bench';

/**
 * The sealing figure alone (`node dist/test/bench/sealing.main.js`), to repeat it and to profile
 * it with `node --cpu-prof`: BENCH_RUNS (3), BENCH_SECONDS (4: 1-s slices), BENCH_ENGINE
 * (postgres, pglite or both: the default), BENCH_SUSTAINED_SECONDS (12: the sealer through
 * that long a stretch of appends, then its catch-up), BENCH_SEALING=inline to seal on the
 * appends' thread on PostgreSQL too (as before the sealing thread), BENCH_SEALING=cost for the CPU that sealing
 * BENCH_EVENTS (20,000) appended events costs, apart from the appends.
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
    const engine = process.env.BENCH_ENGINE ?? 'both';
    const settings = {
      runs: Number(process.env.BENCH_RUNS ?? 3),
      durationMs: Number(process.env.BENCH_SECONDS ?? 4) * 1000,
    };
    for (const target of [url.toString(), null]) {
      if (engine !== 'both' && engine !== (target ? 'postgres' : 'pglite')) continue;
      const loadBefore = load();
      const figures = await appendWithSealing(target, 8, settings, {
        sustainedMs: Number(process.env.BENCH_SUSTAINED_SECONDS ?? 12) * 1000,
        inline: process.env.BENCH_SEALING === 'inline',
      });
      console.log(JSON.stringify(figures));
      console.log(`${summary(figures)}; load ${loadBefore} → ${load()}`);
      if (figures.postgresByName) console.log(byConnection(figures.postgresByName));
    }
  } finally {
    await postgres.stop();
  }
}

/** PostgreSQL's CPU/run delay per appended event by connection or process, each kind of slice. */
function byConnection(figures: NonNullable<SealingFigures['postgresByName']>): string {
  return (['off', 'on', 'offAgain'] as const)
    .map(
      (kind) =>
        `postgres µs/event CPU/waiting, ${kind}: ` +
        Object.entries(figures[kind])
          .filter(([, { cpu, wait }]) => cpu >= 0.1 || wait >= 0.1)
          .map(([name, { cpu, wait }]) => `${name} ${cpu.toFixed(1)}/${wait.toFixed(1)}`)
          .join(', '),
    )
    .join('\n');
}

function summary(figures: SealingFigures): string {
  const rate = (r: { rate: number }) => Math.round(r.rate);
  const cpu = (c: CpuPerEvent) =>
    `${Math.round(c.node)}+${Math.round(c.sealingThread)}+${Math.round(c.otherThreads)}` +
    (c.postgres === undefined ? '' : `/${Math.round(c.postgres)}`) +
    ` (waiting ${Math.round(c.waitingNode)}` +
    (c.waitingPostgres === undefined ? ')' : `/${Math.round(c.waitingPostgres)})`);
  const { off, on, offAgain } = figures.cpuPerEvent;
  const ms = (values: number[]) => values.map((v) => Math.round(v)).join(',');
  return (
    `${figures.engine} (sealing on the ${figures.sealing}): on ${rate(figures.sealingOn)}, off ${rate(figures.sealingOff)}, ` +
    `off again ${rate(figures.sealingOffAgain)} events/s; on/off ` +
    `${(figures.sealingOn.rate / figures.sealingOff.rate).toFixed(2)}× (median pair ` +
    `${figures.medianPairRatio.toFixed(2)}), A/A ` +
    `${(figures.sealingOffAgain.rate / figures.sealingOff.rate).toFixed(2)}× (median pair ` +
    `${figures.medianAaPairRatio.toFixed(2)}); CPU µs/event main+sealing+other threads/postgres: off ${cpu(off)}, ` +
    `on ${cpu(on)}, off again ${cpu(offAgain)}; unsealed at the end of "on" ` +
    `${figures.unsealedAtEnd.join(',')}, caught up in ${ms(figures.catchUpMs)} ms; ` +
    `${figures.checkpoints} checkpoints` +
    (figures.sustained
      ? `; sustained ${figures.sustained.seconds} s: ${figures.sustained.events} events, ` +
        `unsealed each second ${figures.sustained.unsealedEachSecond.join(',')}, ` +
        `${figures.sustained.checkpoints} checkpoints (longest gap ` +
        `${figures.sustained.longestGapMs} ms), caught up in ${figures.sustained.catchUpMs} ms`
      : '')
  );
}

void main();
