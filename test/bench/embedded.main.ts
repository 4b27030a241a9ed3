import { embeddedHttp, STEADY_RATE } from './embedded-http.bench';
import { pgliteStatementCosts } from './pglite-statement.bench';

/**
 * The embedded store's figures alone (`node dist/test/bench/embedded.main.js [statements|http]`):
 * the cost of single statements on PGlite through PGlite's own query and through
 * PgliteSqlClient, and the built API on the embedded store under autocannon. BENCH_RUNS
 * (default 3), BENCH_SECONDS (HTTP runs, default 10), BENCH_STATEMENTS (iterations per
 * statement run, default 300), BENCH_STEADY_RATE (requests/s offered in the steady phases,
 * default 200), BENCH_API_NODE_ARGS (for the API's node, e.g.
 * `--cpu-prof --cpu-prof-dir=profiles`).
 */
async function main(): Promise<void> {
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  const which = process.argv[2];
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
    const nodeArgs = process.env.BENCH_API_NODE_ARGS?.split(' ').filter(Boolean);
    const http = await embeddedHttp(runs, seconds, nodeArgs);
    const fmt = (r: { rate: number; p50: number; p99: number; failed?: number }) =>
      `${Math.round(r.rate)} req/s (p50 ${r.p50} ms, p99 ${r.p99} ms${r.failed ? `, ${r.failed} failed` : ''})`;
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
    console.log(`API CPU per POST at 64 connections: ${http.cpuPerPostMs.toFixed(1)} ms`);
    console.log(`API RSS: ${http.rssIdleMb} MB idle, ${http.rssLoadedMb} MB after load`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
