import { createDatabase } from '@truceline/testing';
import { startThrowawayPostgres } from '../../infra/postgres/pg-test-server';
import { embeddedHttp, STEADY_RATE, steadyPostVsBare, steadyRow } from './embedded-http.bench';
import { pgliteStatementCosts } from './pglite-statement.bench';

/**
 * The embedded store's figures alone (`node dist/test/bench/embedded.main.js
 * [statements|http|steady]`): the cost of single statements on PGlite through PGlite's own query
 * and through PgliteSqlClient, the built API on the embedded store under autocannon, and
 * (`steady` alone, as `npm run bench` does) POST at a steady rate interleaved with the bare
 * INSERT server on a throwaway PostgreSQL at the same rate. BENCH_RUNS
 * (default 3), BENCH_SECONDS (HTTP runs, default 10), BENCH_STATEMENTS (iterations per
 * statement run, default 300), BENCH_STEADY_RATE (requests/s offered in the steady phases,
 * default 200), BENCH_API_NODE_OPTIONS (node options for the API process, named as in
 * http.main.js, e.g. `--cpu-prof --cpu-prof-dir=profiles`).
 */
async function main(): Promise<void> {
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  const which = process.argv[2];
  const nodeArgs = process.env.BENCH_API_NODE_OPTIONS?.split(' ').filter(Boolean);
  if (which === 'steady') {
    const postgres = await startThrowawayPostgres();
    try {
      const seconds = Number(process.env.BENCH_SECONDS ?? 10);
      const bareUrl = await createDatabase(postgres.url, 'bench_bare_steady');
      const row = steadyRow(await steadyPostVsBare(bareUrl, runs, seconds, { nodeArgs }));
      const { runs: each } = row.details;
      const fmt = (r: { p50: number; p99: number }) => `${r.p50.toFixed(1)}/${r.p99.toFixed(1)}`;
      console.log(
        `${row.figure}: ${row.truceline} | ${row.baselineName}: ${row.baseline} → ` +
          `${row.ratio.toFixed(2)}×\n  runs, p50/p99 ms: API ${each.api.map(fmt).join(', ')}; ` +
          `bare ${each.bare.map(fmt).join(', ')}`,
      );
    } finally {
      await postgres.stop();
    }
    return;
  }
  if (which !== 'http') {
    const costs = await pgliteStatementCosts(runs, Number(process.env.BENCH_STATEMENTS ?? 300));
    for (const cost of costs) {
      console.log(
        `${cost.operation}: PGlite query ${cost.pgliteQuery.cpuMs.toFixed(3)} ms CPU ` +
          `(${cost.pgliteQuery.wallMs.toFixed(3)} ms wall), PgliteSqlClient ` +
          `${cost.client.cpuMs.toFixed(3)} ms CPU (${cost.client.wallMs.toFixed(3)} ms wall): ` +
          `${(cost.pgliteQuery.cpuMs / cost.client.cpuMs).toFixed(2)}× less CPU`,
      );
    }
  }
  if (which !== 'statements') {
    const seconds = Number(process.env.BENCH_SECONDS ?? 10);
    const http = await embeddedHttp(runs, seconds, nodeArgs);
    const fmt = (r: { rate: number; p50: number; p99: number; failed?: number }) =>
      `${Math.round(r.rate)} req/s (p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms${r.failed ? `, ${r.failed} failed` : ''})`;
    console.log(`POST /v1/incidents, embedded, 64 connections: ${fmt(http.post)}`);
    console.log(`GET /v1/incidents/{id}, embedded, 64 connections: ${fmt(http.get)}`);
    console.log(
      `POST /v1/incidents, embedded, offered ${STEADY_RATE}/s: ${fmt(http.steady)}, ` +
        `API CPU ${http.cpuPerSteadyPostMs.toFixed(1)} ms per POST`,
    );
    console.log(
      `GET /v1/incidents/{id}, embedded, offered ${STEADY_RATE}/s: ${fmt(http.steadyGet)}, ` +
        `API CPU ${http.cpuPerSteadyGetMs.toFixed(1)} ms per GET`,
    );
    console.log(
      `API CPU per POST at 64 connections, the run and its settling: ${http.cpuPerPostMs.toFixed(1)} ms`,
    );
    console.log(`API RSS: ${http.rssIdleMb} MB idle, ${http.rssLoadedMb} MB after load`);
    console.log(`API RSS after each round, settled: ${http.rssAfterRoundsMb.join(', ')} MB`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
