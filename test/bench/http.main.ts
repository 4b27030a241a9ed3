import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { signToken } from '@truceline/config';
import { Client } from 'pg';
import { startThrowawayPostgres } from '../../infra/postgres/pg-test-server';
import { ApiProcess } from '../support/api-process';
import { freePort } from '../support/free-port';
import { cannon, cpuOf, JWT_SECRET, report, rssMb, settle, untilAnswering } from './http.bench';
import { LoadResult, paced } from './load';
import { postgresCpu } from './postgres-cpu';

/**
 * The HTTP figures on PostgreSQL alone (`node dist/test/bench/http.main.js`), for iterating on
 * the command path: the built API and the bare server run side by side on one throwaway
 * PostgreSQL and are loaded in turn (API, bare, API, bare…), BENCH_RUNS times (default 3) for
 * BENCH_SECONDS each (default 5). Besides the rates it prints, per request, the CPU time of the
 * API process (and of its main thread alone), of the bare server and of the PostgreSQL server,
 * and the statements the API sent (counted in the API process by count-statements.js),
 * sequentially and under load; and each server's read and write system calls a request (all its
 * threads) with its main thread's context switches (`readsWrites`, `switches`).
 * BENCH_CPU_PROF=<dir> writes there the API's CPU profile of each measured run (api-NN.cpuprofile,
 * numbered in the order of the runs printed, the sequential POSTs first);
 * BENCH_HEAP_PROF=<dir> writes there, the same way, a sampling heap profile of each measured run
 * (api-NN.heapprofile) that counts what was allocated, collected since or not;
 * BENCH_GC=1 adds to each measured API run the time the API's main thread spent in each kind of
 * garbage collection a request, and how many there were;
 * BENCH_RATE=<n> adds a run at n POSTs per second, evenly paced (latency at a given load), to the
 * API then to the bare server.
 * BENCH_WARMUP_SECONDS (default 10) of POSTs go to each server, unmeasured, before the runs.
 * BENCH_API_NODE_OPTIONS: node options for the API process besides the bench's own (those
 * NODE_OPTIONS accepts, e.g. `--max-semi-space-size=32` or `--heapsnapshot-signal=SIGUSR1`).
 * BENCH_WAITS=1 samples the API's backends (pg_stat_activity) every 5 ms during each measured
 * API run and prints, per statement, how often it was seen running or waiting on what (a lock's
 * holder named by its statement), and the statements' time in the server (pg_stat_statements):
 * where a POST's time goes on the server's side.
 */
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const FIXED_RATE = process.env.BENCH_RATE ? Number(process.env.BENCH_RATE) : undefined;
const CPU_PROF = process.env.BENCH_CPU_PROF;
/**
 * V8 optimises the API's code on helper threads during its first seconds of load. In one API
 * process after the seeds, six closed-loop runs of 6 s back to back (2 December 14:14 and 14:18,
 * load average 8-10) cost 3.15, 2.90, 1.68, 1.79, 1.58, 1.66 ms of CPU a POST, and on the
 * previous main 5.42, 4.45, 4.01, 2.47, 2.15, 2.08: the threads other than the main one fell
 * from 1.3-2.4 to 0.25-0.35 ms a POST. Without a warm-up the first measured runs count that
 * compiling, which a server that has run for a while no longer pays.
 */
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 10);
const WAITS = process.env.BENCH_WAITS === '1';

/** Whitespace runs of a statement's text as one space, cut to `n` characters (SQL). */
const shortSql = (column: string, n: number) =>
  `left(regexp_replace(${column}, '\\s+', ' ', 'g'), ${n})`;

/**
 * Samples the API's backends until stopped (BENCH_WAITS): how often each statement was seen
 * active, on the CPU (or waiting for one: PostgreSQL cannot tell) or waiting on what, with the
 * statements of the backends holding the lock it waits for; then pg_stat_statements' time per
 * statement over the same span. The sampling costs CPU itself: not for the figures' runs.
 */
function sampleWaits(url: string): { stop(): Promise<Record<string, unknown>> } {
  const client = new Client({ connectionString: url });
  const seen = new Map<string, number>();
  let running = true;
  const loop = (async () => {
    await client.connect();
    await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await client.query('SELECT pg_stat_statements_reset()');
    while (running) {
      const { rows } = await client.query<{ key: string }>(
        `SELECT coalesce(a.wait_event_type || ':' || a.wait_event, 'cpu') || ' | ' ||
                ${shortSql('a.query', 70)} ||
                coalesce(' <- ' || (SELECT string_agg(${shortSql('b.query', 50)} || ' [' || b.state || ']', '; ')
                                      FROM pg_stat_activity b
                                     WHERE b.pid = ANY(pg_blocking_pids(a.pid))), '') AS key
           FROM pg_stat_activity a
          WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.state = 'active'`,
      );
      for (const { key } of rows) seen.set(key, (seen.get(key) ?? 0) + 1);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const { rows } = await client.query<{ key: string }>(
      `SELECT round(total_exec_time::numeric, 1) || ' ms, planning ' ||
              round(total_plan_time::numeric, 1) || ' ms, ' || calls || ' calls, ' || plans ||
              ' plans, ' || rows || ' rows | ' || ${shortSql('query', 90)} AS key
         FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND query NOT LIKE '%pg_stat_%'
        ORDER BY total_exec_time + total_plan_time DESC LIMIT 15`,
    );
    await client.end();
    return rows.map((row) => row.key);
  })();
  return {
    async stop() {
      running = false;
      const statements = await loop;
      const samples = Object.fromEntries([...seen].sort((a, b) => b[1] - a[1]).slice(0, 25));
      return { samples, statements };
    },
  };
}
/**
 * A process's read and write system calls so far (all threads: sockets, pipes, files), and its
 * main thread's context switches, voluntary (it waited) and not (it was preempted).
 */
function syscallsOf(pid: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of readFileSync(`/proc/${pid}/io`, 'utf8').split('\n')) {
    const [key, value] = line.split(':');
    if (key === 'syscr' || key === 'syscw') counts[key] = Number(value);
  }
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  counts.waited = Number(/\nvoluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0);
  counts.preempted = Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return counts;
}

/** `syscallsOf` a request over a run: reads, writes, the main thread's switches. */
const perRequestOf = (
  before: Record<string, number>,
  after: Record<string, number>,
  requests: number,
) => ({
  readsWrites: `${((after.syscr - before.syscr) / requests).toFixed(2)}/${((after.syscw - before.syscw) / requests).toFixed(2)}`,
  switches: `${((after.waited - before.waited) / requests).toFixed(2)} waited, ${((after.preempted - before.preempted) / requests).toFixed(2)} preempted`,
});

interface Sample {
  cpuMicros: number;
  statements: Record<string, number>;
  /** With BENCH_GC=1: the main thread's collections so far, by kind. */
  gc?: Record<string, { count: number; ms: number }>;
}

async function main(): Promise<void> {
  const postgres = await startThrowawayPostgres(
    WAITS
      ? {
          settings: [
            'shared_preload_libraries=pg_stat_statements',
            'pg_stat_statements.track_planning=on',
          ],
        }
      : {},
  );
  const statsDir = await mkdtemp(join(tmpdir(), 'truceline-http-bench-'));
  const statsFile = join(statsDir, 'statements.json');
  let api: ApiProcess | undefined;
  let bare: ReturnType<typeof spawn> | undefined;
  try {
    const admin = new Client({ connectionString: postgres.url });
    await admin.connect();
    await admin.query('CREATE DATABASE bench_http');
    const backend = (await admin.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]
      .pid;
    const stat = readFileSync(`/proc/${backend}/stat`, 'utf8');
    const postmaster = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    await admin.end();
    const url = new URL(postgres.url);
    url.pathname = '/bench_http';
    const databaseUrl = url.toString();

    const port = await freePort();
    const preload = join(__dirname, 'count-statements.js');
    api = new ApiProcess({
      PORT: String(port),
      TRUCELINE_JWT_SECRET: JWT_SECRET,
      LOG_LEVEL: 'warn',
      DATABASE_URL: databaseUrl,
      BENCH_STATEMENTS_FILE: statsFile,
      ...(CPU_PROF && { BENCH_CPU_PROF: CPU_PROF }),
      ...(process.env.BENCH_HEAP_PROF && { BENCH_HEAP_PROF: process.env.BENCH_HEAP_PROF }),
      NODE_OPTIONS: `--require ${preload} ${process.env.BENCH_API_NODE_OPTIONS ?? ''}`.trim(),
    });
    api.start();
    const apiUrl = `http://127.0.0.1:${port}`;
    const auth = {
      authorization: `Bearer ${signToken(JWT_SECRET, { role: 'operator', sub: 'bench' })}`,
    };
    await untilAnswering(`${apiUrl}/v1/incidents`, auth, () => api?.log ?? '');
    const apiPid = api.pid as number;

    bare = spawn(process.execPath, [join(__dirname, 'bare-server.js')], {
      env: { ...process.env, BENCH_DATABASE_URL: databaseUrl },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = (await once(bare.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
    const bareUrl = `http://127.0.0.1:${line.toString().trim()}`;
    const barePid = bare.pid as number;

    const sample = async (): Promise<Sample> => {
      await rm(statsFile, { force: true });
      process.kill(apiPid, 'SIGUSR2');
      for (let i = 0; i < 100; i++) {
        const text = await readFile(statsFile, 'utf8').catch(() => '');
        if (text) return JSON.parse(text) as Sample;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      throw new Error('the API did not write its statement counts');
    };
    const perRequest = (before: Sample, after: Sample, requests: number) => {
      const statements: Record<string, number> = {};
      let total = 0;
      for (const [kind, count] of Object.entries(after.statements)) {
        const delta = count - (before.statements[kind] ?? 0);
        if (delta === 0) continue;
        statements[kind] = Number((delta / requests).toFixed(2));
        total += delta;
      }
      return {
        statements: Number((total / requests).toFixed(1)),
        byKind: statements,
        apiCpuMs: Number(((after.cpuMicros - before.cpuMicros) / requests / 1000).toFixed(2)),
      };
    };

    // Seeds, and the statements of one POST at a time (no load: nothing is amortised).
    const ids: string[] = [];
    const bareIds: string[] = [];
    const post = (base: string, path: string, n: number) =>
      fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        body: report(n),
      });
    for (let i = 0; i < 50; i++) {
      const response = await post(apiUrl, '/v1/incidents', i);
      if (response.status !== 201) throw new Error(`POST answered ${response.status}`);
      ids.push(((await response.json()) as { incidentId: string }).incidentId);
      const bareResponse = await post(bareUrl, '/x', i);
      bareIds.push(((await bareResponse.json()) as { incidentId: string }).incidentId);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const SEQUENTIAL = 100;
    let before = await sample();
    let server = await postgresCpu(postmaster);
    for (let i = 0; i < SEQUENTIAL; i++) await post(apiUrl, '/v1/incidents', i);
    await new Promise((resolve) => setTimeout(resolve, 1000)); // the services' reactions settle
    const after = await sample();
    const sequential = {
      ...perRequest(before, after, SEQUENTIAL),
      pgCpuMs: Number((((await postgresCpu(postmaster)) - server) / SEQUENTIAL / 1000).toFixed(2)),
    };
    console.log(`sequential POST, per request: ${JSON.stringify(sequential)}`);

    /** The statements a request sent, and (BENCH_GC=1) the main thread's collections a request. */
    const countedFigures = async (before: Sample, requests: number) => {
      const after = await sample();
      const gc: Record<string, string> = {};
      for (const [kind, { count, ms }] of Object.entries(after.gc ?? {})) {
        const previous = before.gc?.[kind] ?? { count: 0, ms: 0 };
        gc[kind] = kind.endsWith('MB')
          ? `${(((ms - previous.ms) * 1024) / requests).toFixed(2)} kB a request`
          : `${(((ms - previous.ms) * 1000) / requests).toFixed(1)} us, ` +
            `${count - previous.count} times`;
      }
      return {
        statements: perRequest(before, after, requests).byKind,
        ...(after.gc && Object.keys(after.gc).length > 0 && { gc }),
      };
    };
    const runs: Record<string, unknown>[] = [];
    const measured = async (
      name: string,
      pid: number,
      run: () => Promise<LoadResult>,
      counted: boolean,
    ) => {
      before = counted ? await sample() : { cpuMicros: 0, statements: {} };
      const cpu = cpuOf(pid);
      const mainCpu = cpuOf(pid, pid);
      const calls = syscallsOf(pid);
      server = await postgresCpu(postmaster);
      const load = loadavg()[0];
      const waits = WAITS && pid === apiPid ? sampleWaits(databaseUrl) : undefined;
      const result = await run();
      if (waits) console.log(JSON.stringify(await waits.stop(), null, 1));
      const settledMs = await settle(pid);
      const requests = result.count ?? 1;
      const figures = {
        name,
        rate: Math.round(result.rate),
        p50: result.p50,
        p99: result.p99,
        failed: result.failed,
        processCpuMs: Number(((cpuOf(pid) - cpu) / requests / 1000).toFixed(3)),
        // The thread that serves every request: what bounds the rate when it is saturated.
        mainCpuMs: Number(((cpuOf(pid, pid) - mainCpu) / requests / 1000).toFixed(3)),
        ...perRequestOf(calls, syscallsOf(pid), requests),
        pgCpuMs: Number((((await postgresCpu(postmaster)) - server) / requests / 1000).toFixed(3)),
        load: Number(load.toFixed(1)),
        settledMs,
        rssMb: rssMb(pid),
        ...(counted && (await countedFigures(before, requests))),
      };
      runs.push(figures);
      console.log(JSON.stringify(figures));
      return result;
    };
    const postAt = (path: string) => (n: number) => ({
      method: 'POST' as const,
      path,
      body: report(n),
    });
    const getAt = (path: (n: number) => string) => (n: number) => ({
      method: 'GET' as const,
      path: path(n),
    });
    if (WARMUP_SECONDS > 0) {
      await cannon(apiUrl, WARMUP_SECONDS, postAt('/v1/incidents'), auth);
      await settle(apiPid);
      await cannon(bareUrl, WARMUP_SECONDS, postAt('/x'), {});
      await settle(barePid);
    }
    await cannon(
      apiUrl,
      1,
      getAt(() => `/v1/incidents/${ids[0]}`),
      auth,
    );
    await cannon(
      bareUrl,
      1,
      getAt(() => `/x/${bareIds[0]}`),
      {},
    );
    const rates: Record<string, number[]> = { post: [], barePost: [], get: [], bareGet: [] };
    for (let run = 0; run < RUNS; run++) {
      const a = await measured(
        'POST api',
        apiPid,
        () => cannon(apiUrl, SECONDS, postAt('/v1/incidents'), auth),
        true,
      );
      const b = await measured(
        'POST bare',
        barePid,
        () => cannon(bareUrl, SECONDS, postAt('/x'), {}),
        false,
      );
      const c = await measured(
        'GET api',
        apiPid,
        () =>
          cannon(
            apiUrl,
            SECONDS,
            getAt((n) => `/v1/incidents/${ids[n % ids.length]}`),
            auth,
          ),
        true,
      );
      const d = await measured(
        'GET bare',
        barePid,
        () =>
          cannon(
            bareUrl,
            SECONDS,
            getAt((n) => `/x/${bareIds[n % bareIds.length]}`),
            {},
          ),
        false,
      );
      rates.post.push(a.rate / b.rate);
      rates.get.push(c.rate / d.rate);
    }
    if (FIXED_RATE) {
      // The API and the bare server paced alike, as `npm run bench`'s steady PostgreSQL row.
      const a = await measured(
        `POST api at ${FIXED_RATE}/s`,
        apiPid,
        () => paced(apiUrl, SECONDS, postAt('/v1/incidents'), auth, FIXED_RATE),
        true,
      );
      const b = await measured(
        `POST bare at ${FIXED_RATE}/s`,
        barePid,
        () => paced(bareUrl, SECONDS, postAt('/x'), {}, FIXED_RATE),
        false,
      );
      console.log(
        `POST at ${FIXED_RATE}/s, api/bare: answered ${(a.rate / b.rate).toFixed(2)}, ` +
          `p99 ${a.p99.toFixed(1)} against ${b.p99.toFixed(1)} ms`,
      );
    }
    const median = (values: number[]) => [...values].sort((x, y) => x - y)[values.length >> 1];
    console.log(
      `POST api/bare per run: ${rates.post.map((r) => r.toFixed(2)).join(', ')} (median ${median(rates.post).toFixed(2)}); ` +
        `GET api/bare per run: ${rates.get.map((r) => r.toFixed(2)).join(', ')} (median ${median(rates.get).toFixed(2)})`,
    );
    console.log(JSON.stringify({ sequential, runs }));
  } finally {
    bare?.kill('SIGTERM');
    await api?.stop();
    await postgres.stop();
    await rm(statsDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
