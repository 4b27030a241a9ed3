import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createDatabase } from '@truceline/testing';
import { startThrowawayPostgres } from '../../infra/postgres/pg-test-server';
import { REPO_ROOT } from '../support/shared-scenarios';
import { appendOnPglite, appendOnPostgres, BenchSettings } from './append.bench';
import { bareHttp, HttpResult, truclineHttp } from './http.bench';
import { POSTGRES_STEADY_RATE, steadyPostVsBare, steadyRow } from './embedded-http.bench';
import { LoadResult } from './load';
import { REPLAY_INCIDENTS, replayVsScan } from './replay.bench';
import { appendWithSealing } from './sealing.bench';
import { provideBenchKafka } from './bench-kafka';
import { breachToMinistryFeed } from './feed-latency.bench';
import { relayVsSendBatch } from './relay.bench';
import { writeRunResults } from './results-file';

/**
 * `npm run bench`: every figure beside its baseline measured in the same run, medians of
 * several runs. Starts its own PostgreSQL as the tests do. BENCH_RUNS and BENCH_SECONDS shorten
 * or lengthen it.
 */
interface Row {
  figure: string;
  truceline: string;
  baseline: string;
  baselineName: string;
  ratio: number | null;
  details?: Record<string, unknown>;
}

const settings: BenchSettings = {
  runs: Number(process.env.BENCH_RUNS ?? 3),
  durationMs: Number(process.env.BENCH_SECONDS ?? 4) * 1000,
};
const WRITERS = 8;

/** An HTTP figure: its rate, latencies and the server process's CPU per request. */
const fmtHttp = (r: HttpResult) => `${fmtRate(r, 'req/s')}, ${r.cpuMs.toFixed(2)} ms CPU/request`;

const fmtRate = (r: LoadResult, unit: string) =>
  `${Math.round(r.rate).toLocaleString('en')} ${unit} (p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms)`;

async function main(): Promise<void> {
  const started = Date.now();
  const rows: Row[] = [];
  const add = (row: Row) => {
    rows.push(row);
    const ratio = row.ratio === null ? '' : ` → ${row.ratio.toFixed(2)}×`;
    console.log(`${row.figure}: ${row.truceline} | ${row.baselineName}: ${row.baseline}${ratio}`);
  };
  // The broker starts beside the database (a JVM takes seconds); the Kafka figures need both.
  const [startedPostgres, startedKafka] = await Promise.allSettled([
    startThrowawayPostgres(),
    provideBenchKafka(),
  ]);
  if (startedPostgres.status === 'rejected' || startedKafka.status === 'rejected') {
    if (startedPostgres.status === 'fulfilled') await startedPostgres.value.stop();
    if (startedKafka.status === 'fulfilled') await startedKafka.value.stop();
    throw startedPostgres.status === 'rejected'
      ? startedPostgres.reason
      : (startedKafka as PromiseRejectedResult).reason;
  }
  const postgres = startedPostgres.value;
  const kafka = startedKafka.value;
  const database = (name: string) => createDatabase(postgres.url, name);
  console.log(`bench on ${postgres.description}, ${kafka.description}, ${cpus().length} cores`);
  try {
    for (const batch of [1, 10]) {
      const figures = await appendOnPostgres(
        await database(`bench_append_${batch}`),
        batch,
        WRITERS,
        settings,
      );
      add({
        figure: `store append, PostgreSQL, ${WRITERS} writers, batches of ${batch}`,
        truceline: fmtRate(figures.truceline, 'events/s'),
        baselineName: 'raw INSERT … SELECT unnest',
        baseline: fmtRate(figures.raw, 'events/s'),
        ratio: figures.truceline.rate / figures.raw.rate,
        details: { ...figures },
      });
      if (figures.emmett) {
        add({
          figure: `store append vs Emmett, batches of ${batch}`,
          truceline: fmtRate(figures.truceline, 'events/s'),
          baselineName: 'emmett-postgresql',
          baseline: fmtRate(figures.emmett, 'events/s'),
          ratio: figures.truceline.rate / figures.emmett.rate,
        });
      }
    }
    const single = await appendOnPostgres(await database('bench_latency'), 1, 1, settings);
    add({
      figure: 'single append latency, PostgreSQL, 1 writer',
      truceline: `p50 ${single.truceline.p50.toFixed(2)} ms, p99 ${single.truceline.p99.toFixed(2)} ms`,
      baselineName: 'raw insert',
      baseline: `p50 ${single.raw.p50.toFixed(2)} ms, p99 ${single.raw.p99.toFixed(2)} ms`,
      ratio: single.raw.p99 / single.truceline.p99,
      details: { ...single },
    });
    const sealing = await appendWithSealing(await database('bench_sealing'), WRITERS, settings);
    add({
      figure: `store append with the log sealed behind it, PostgreSQL, ${WRITERS} writers`,
      truceline: fmtRate(sealing.sealingOn, 'events/s'),
      baselineName: 'the same appends, sealing off',
      baseline: fmtRate(sealing.sealingOff, 'events/s'),
      ratio: sealing.sealingOn.rate / sealing.sealingOff.rate,
      details: { ...sealing },
    });
    // The A/A of the same slices: how far two kinds of slice differ with sealing off in both,
    // so the on/off ratio above is read against the noise of this run, not against 1.
    add({
      figure: `A/A of the row above: sealing off, then off again (pair ratios: on/off ${sealing.pairRatios.map((r) => r.toFixed(2)).join(', ')}; off/off ${sealing.aaPairRatios.map((r) => r.toFixed(2)).join(', ')})`,
      truceline: fmtRate(sealing.sealingOffAgain, 'events/s'),
      baselineName: 'sealing off',
      baseline: fmtRate(sealing.sealingOff, 'events/s'),
      ratio: sealing.sealingOffAgain.rate / sealing.sealingOff.rate,
    });
    const relay = await relayVsSendBatch(await database('bench_relay'), kafka, settings.runs);
    const cpuOf = (c: { node: number; postgres: number; kafka: number }) =>
      `CPU per event: Node ${Math.round(c.node)} µs, PostgreSQL ${Math.round(c.postgres)} µs, ` +
      `Kafka ${Math.round(c.kafka)} µs`;
    add({
      figure: `relay to Kafka, ${relay.events.toLocaleString('en')} events, batches of ${relay.batchSize.toLocaleString('en')}`,
      truceline: `${Math.round(relay.relay).toLocaleString('en')} events/s (${cpuOf(relay.cpuPerEvent.relay)})`,
      baselineName: 'kafkajs sendBatch of the same messages, the relay’s producer settings',
      baseline: `${Math.round(relay.raw).toLocaleString('en')} events/s (${cpuOf(relay.cpuPerEvent.raw)})`,
      ratio: relay.relay / relay.raw,
      details: { ...relay },
    });
    const feed = await breachToMinistryFeed(await database('bench_feed'), kafka);
    const lost = (r: { sent: number; received: number; late?: number }) =>
      r.received < r.sent
        ? `, ${r.sent - r.received} of ${r.sent} not received within 10 s` +
          (r.late ? ` (${r.late} of them later)` : '')
        : '';
    // A notice never received counts as infinitely late.
    const ms = (value: number) => (Number.isFinite(value) ? `${value.toFixed(1)} ms` : 'never');
    add({
      figure: `BreachConfirmed → IncidentTierChanged at a ministry's consumer, ${feed.rate}/s for ${feed.seconds} s`,
      truceline:
        `p50 ${ms(feed.truceline.p50)}, p99 ${ms(feed.truceline.p99)} ` +
        `(the append: p50 ${ms(feed.truceline.append.p50)}, p99 ` +
        `${ms(feed.truceline.append.p99)}${lost(feed.truceline)})`,
      baselineName: 'kafkajs send → consumer at the same pace',
      baseline: `p50 ${ms(feed.raw.p50)}, p99 ${ms(feed.raw.p99)}${lost(feed.raw)}`,
      ratio: feed.raw.p99 / feed.truceline.p99,
      details: { ...feed },
    });
    const replay = await replayVsScan(
      await database('bench_replay'),
      REPLAY_INCIDENTS,
      settings.runs,
    );
    add({
      figure: `replay of the incident view vs raw scan + JSON.parse, ${replay.events.toLocaleString('en')} events`,
      truceline: `${Math.round(replay.replay).toLocaleString('en')} events/s`,
      baselineName: 'node-postgres scan, text columns, JSON.parse',
      baseline: `${Math.round(replay.scan).toLocaleString('en')} events/s`,
      ratio: replay.replay / replay.scan,
      details: { ...replay },
    });
    for (const batch of [1, 10]) {
      const embedded = await appendOnPglite(batch, WRITERS, settings);
      add({
        figure: `store append, embedded (PGlite), ${WRITERS} writers, batches of ${batch}`,
        truceline: fmtRate(embedded.truceline, 'events/s'),
        baselineName: 'raw INSERT … SELECT unnest on PGlite',
        baseline: fmtRate(embedded.raw, 'events/s'),
        ratio: embedded.truceline.rate / embedded.raw.rate,
        details: { ...embedded },
      });
    }

    // The API's first answers under 64 connections can take seconds (embedded): runs of at
    // least 10 s, so a figure is a rate, not a warm-up.
    const seconds = Math.max(10, settings.durationMs / 1000);
    const httpUrl = await database('bench_http');
    const bare = await bareHttp(await database('bench_bare'), settings.runs, seconds);
    const onPostgres = await truclineHttp({ databaseUrl: httpUrl }, settings.runs, seconds);
    const dataDir = await mkdtemp(join(tmpdir(), 'truceline-bench-'));
    const embedded = await truclineHttp({ dataDir }, settings.runs, seconds).finally(() =>
      rm(dataDir, { recursive: true, force: true }),
    );
    for (const [store, figures] of [
      ['PostgreSQL', onPostgres],
      ['embedded', embedded],
    ] as const) {
      add({
        figure: `POST /v1/incidents, ${store}, 64 connections`,
        truceline: fmtHttp(figures.post),
        baselineName: 'bare Node server, one INSERT (PostgreSQL)',
        baseline: fmtHttp(bare.post),
        ratio: figures.post.rate / bare.post.rate,
        details: {
          truceline: figures.post,
          baseline: bare.post,
          runs: { truceline: figures.runs.post, baseline: bare.runs.post },
        },
      });
      add({
        figure: `GET /v1/incidents/{id}, ${store}, 64 connections`,
        truceline: fmtHttp(figures.get),
        baselineName: 'bare Node server, one SELECT (PostgreSQL)',
        baseline: fmtHttp(bare.get),
        ratio: figures.get.rate / bare.get.rate,
        details: {
          truceline: figures.get,
          baseline: bare.get,
          runs: { truceline: figures.runs.get, baseline: bare.runs.get },
        },
      });
      add({
        figure: `API memory (RSS), ${store}`,
        truceline: `${figures.rssIdleMb} MB idle, ${figures.rssLoadedMb} MB after load`,
        baselineName: 'target',
        baseline: '250 MB',
        ratio: 250 / Math.max(figures.rssIdleMb, figures.rssLoadedMb),
      });
    }
    const bareSteady = await database('bench_bare_steady');
    add(steadyRow(await steadyPostVsBare(bareSteady, settings.runs, seconds)));
    // The same on PostgreSQL at its target's rate, a new API process on a database of its own.
    const steadyOnPostgres = await steadyPostVsBare(bareSteady, settings.runs, seconds, {
      store: { databaseUrl: await database('bench_http_steady') },
      rate: POSTGRES_STEADY_RATE,
    });
    add(steadyRow(steadyOnPostgres));
  } finally {
    await kafka.stop();
    await postgres.stop();
  }

  printTable(rows);
  const at = new Date();
  const file = await writeRunResults(
    join(REPO_ROOT, 'bench/results'),
    at,
    `${JSON.stringify(
      {
        at: at.toISOString(),
        machine: { cores: cpus().length, cpu: cpus()[0]?.model, memoryGb: totalmem() / 2 ** 30 },
        node: process.version,
        settings,
        seconds: Math.round((Date.now() - started) / 1000),
        rows,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`\nwritten to ${file} in ${Math.round((Date.now() - started) / 1000)} s`);
}

function printTable(rows: Row[]): void {
  console.log('\n| figure | Truceline | baseline | ratio |\n|---|---|---|---|');
  for (const row of rows) {
    const ratio = row.ratio === null ? '—' : `${row.ratio.toFixed(2)}×`;
    console.log(
      `| ${row.figure} | ${row.truceline} | ${row.baselineName}: ${row.baseline} | ${ratio} |`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
