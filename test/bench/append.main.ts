import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { EventStore, openDatabase, SqlClient } from '@truceline/event-store';
import { createDatabase } from '@truceline/testing';
import {
  startThrowawayPostgres,
  TestPostgres,
  useExistingPostgres,
} from '../../infra/postgres/pg-test-server';
import {
  AppendSystem,
  emmettAppends,
  interleaved,
  MeasuredRun,
  rawAppends,
  trucelineAppends,
} from './append.bench';
import { postmasterOf } from './postgres-cpu';

/**
 * The store append figures alone (`node dist/test/bench/append.main.js`), to repeat them and
 * to profile them with `node --cpu-prof`. Each system appends on a database of its own, the
 * systems interleaved run by run; every run prints its rate, latencies, the CPU per event of
 * this process and of the PostgreSQL server, and the load average.
 *
 * - BENCH_BATCHES (`1,10`), BENCH_WRITERS (8), BENCH_RUNS (3), BENCH_SECONDS (4);
 * - BENCH_SYSTEMS (`truceline,raw,emmett`): which to run, in this order;
 * - BENCH_BASELINE_BUILD: the root of another build of this repository (its `dist`, e.g. of
 *   main before a change): adds the system `baseline`, that build's store, so a change is
 *   measured against the code before it in the same run;
 * - BENCH_POSTGRES_URL: a server to use instead of a throwaway one.
 */
async function main(): Promise<void> {
  const batches = (process.env.BENCH_BATCHES ?? '1,10').split(',').map(Number);
  const writers = Number(process.env.BENCH_WRITERS ?? 8);
  const settings = {
    runs: Number(process.env.BENCH_RUNS ?? 3),
    durationMs: Number(process.env.BENCH_SECONDS ?? 4) * 1000,
  };
  const baselineBuild = process.env.BENCH_BASELINE_BUILD;
  const names = (
    process.env.BENCH_SYSTEMS ?? `truceline,${baselineBuild ? 'baseline,' : ''}raw,emmett`
  ).split(',');
  const postgres: TestPostgres = process.env.BENCH_POSTGRES_URL
    ? await useExistingPostgres(process.env.BENCH_POSTGRES_URL)
    : await startThrowawayPostgres();
  const load = () =>
    loadavg()
      .map((l) => l.toFixed(1))
      .join(' ');
  try {
    console.log(`append bench on ${postgres.description}; load ${load()}`);
    const tag = `${process.pid}_${Date.now() % 100_000}`;
    for (const batch of batches) {
      const systems: AppendSystem[] = [];
      let postmaster: number | null = null;
      try {
        for (const name of names) {
          const url = await createDatabase(postgres.url, `bench_${name}_${batch}_${tag}`);
          systems.push(await systemOf(name, url, batch, writers, baselineBuild));
          if (postmaster === null) {
            const sql = await openDatabase({ databaseUrl: url, poolSize: 1 });
            postmaster = await postmasterOf(sql).finally(() => sql.close());
          }
        }
        const runs = await interleaved(systems, writers, settings, postmaster, (name, run) =>
          console.log(`batches of ${batch}, ${name}: ${fmt(run)}; load ${load()}`),
        );
        console.log(`batches of ${batch}, medians of ${settings.runs} runs:`);
        for (const name of names) console.log(`  ${name}: ${fmt(medianOf(runs[name]))}`);
        const truceline = runs.truceline && medianOf(runs.truceline);
        for (const other of names.filter((name) => name !== 'truceline' && truceline)) {
          const ratios = runs.truceline.map((run, i) => run.rate / runs[other][i].rate);
          console.log(
            `  truceline / ${other}: ${(truceline.rate / medianOf(runs[other]).rate).toFixed(2)}× ` +
              `(run by run ${ratios.map((r) => r.toFixed(2)).join(', ')})`,
          );
        }
      } finally {
        for (const system of systems) await system.close();
      }
    }
  } finally {
    await postgres.stop();
  }
}

/** Medians taken field by field: the rate, each latency and each CPU figure of its own. */
function medianOf(runs: MeasuredRun[]): MeasuredRun {
  const mid = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];
  const server = runs.map((run) => run.postgresCpuPerEvent);
  return {
    rate: mid(runs.map((run) => run.rate)),
    p50: mid(runs.map((run) => run.p50)),
    p99: mid(runs.map((run) => run.p99)),
    nodeCpuPerEvent: mid(runs.map((run) => run.nodeCpuPerEvent)),
    postgresCpuPerEvent: server.includes(null) ? null : mid(server as number[]),
  };
}

const fmt = (run: MeasuredRun) =>
  `${Math.round(run.rate).toLocaleString('en')} events/s (p50 ${run.p50.toFixed(2)} ms, ` +
  `p99 ${run.p99.toFixed(2)} ms), CPU per event: Node ${run.nodeCpuPerEvent.toFixed(0)} µs, ` +
  `PostgreSQL ${run.postgresCpuPerEvent?.toFixed(0) ?? 'n/a'} µs`;

async function systemOf(
  name: string,
  url: string,
  batch: number,
  writers: number,
  baselineBuild: string | undefined,
): Promise<AppendSystem> {
  switch (name) {
    case 'truceline':
      return trucelineAppends(url, batch, writers);
    case 'raw':
      return rawAppends(url, batch, writers);
    case 'emmett':
      return emmettAppends(url, batch);
    case 'baseline': {
      if (!baselineBuild) throw new Error('the baseline system needs BENCH_BASELINE_BUILD');
      const other = require(join(resolve(baselineBuild), 'dist/libs/event-store/src')) as {
        SqlEventStore: new (sql: SqlClient) => EventStore & {
          init(): Promise<void>;
          close(): Promise<void>;
        };
        openDatabase: typeof openDatabase;
      };
      return trucelineAppends(
        url,
        batch,
        writers,
        'baseline',
        (sql) => new other.SqlEventStore(sql),
        other.openDatabase,
      );
    }
    default:
      throw new Error(`unknown system ${name}: truceline, baseline, raw or emmett`);
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
