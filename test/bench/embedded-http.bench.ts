import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signToken } from '@truceline/config';
import { MALLOC_TUNABLES } from '../../infra/start/malloc-tunables';
import { BUILT_API } from '../support/api-process';
import { freePort } from '../support/free-port';
import {
  cannon,
  cpuOf as cpuUs,
  JWT_SECRET,
  report,
  reportIncidents,
  rssMb,
  settle,
  untilAnswering,
} from './http.bench';
import { LoadResult, median, paced } from './load';

/** The steady rate at which POST and GET are offered (target: POST p99 ≤ 100 ms at 200/s). */
export const STEADY_RATE = Number(process.env.BENCH_STEADY_RATE ?? 200);
/** The steady rate of POST on PostgreSQL (target: p99 ≤ 50 ms at 1,000/s). */
export const POSTGRES_STEADY_RATE = 1000;

export interface EmbeddedHttpFigures {
  /** POST /v1/incidents at 64 connections, as fast as it answers. */
  post: LoadResult;
  /** GET /v1/incidents/{id} at 64 connections. */
  get: LoadResult;
  /** POST /v1/incidents offered at STEADY_RATE, evenly paced (`paced`). */
  steady: LoadResult;
  /** GET /v1/incidents/{id} offered at STEADY_RATE. */
  steadyGet: LoadResult;
  /** CPU of the API process per POST answered at 64 connections and its settling, ms (user + system). */
  cpuPerPostMs: number;
  /** The same per POST answered at STEADY_RATE (its reactions given 3 s to finish), and per GET. */
  cpuPerSteadyPostMs: number;
  cpuPerSteadyGetMs: number;
  rssIdleMb: number;
  rssLoadedMb: number;
  /** RSS after each round, once the API has settled: flat once memory is bounded. */
  rssAfterRoundsMb: number[];
}

/**
 * The built API on the embedded store (a new data directory), as a process of its own:
 * RSS idle, then `runs` rounds of POST and GET offered at a steady STEADY_RATE, then POST at
 * 64 connections as fast as it answers, settled, and GET the same, each round followed by the
 * RSS once it has settled, then RSS after the load. Started with the C allocator's settings of `npm start`;
 * `nodeArgs` go to the API's node (e.g. --cpu-prof).
 */
export async function embeddedHttp(
  runs: number,
  durationS: number,
  nodeArgs: string[] = [],
): Promise<EmbeddedHttpFigures> {
  const auth = {
    authorization: `Bearer ${signToken(JWT_SECRET, { role: 'operator', sub: 'bench' })}`,
  };
  const api = await startApi(auth, nodeArgs);
  try {
    const { url } = api;
    const pid = api.pid;
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const rssIdleMb = rssMb(pid);
    const ids = await reportIncidents(url, auth, 50);
    const posting = (n: number) => ({
      method: 'POST' as const,
      path: '/v1/incidents',
      body: report(n),
    });
    const getting = (n: number) => ({
      method: 'GET' as const,
      path: `/v1/incidents/${ids[n % ids.length]}`,
    });
    // As fast as it answers at 64 connections, or at an even pace of `rate` a second.
    const post = (rate?: number) =>
      rate === undefined
        ? cannon(url, durationS, posting, auth)
        : paced(url, durationS, posting, auth, rate);
    const get = (rate?: number) =>
      rate === undefined
        ? cannon(url, durationS, getting, auth)
        : paced(url, durationS, getting, auth, rate);
    /** CPU of the API per request answered in `phase`, ms. */
    const cpuOf = async (phase: () => Promise<LoadResult>, settleMs = 0) => {
      const before = cpuUs(pid) / 1000;
      const result = await phase();
      await new Promise((resolve) => setTimeout(resolve, settleMs));
      return { result, cpu: (cpuUs(pid) / 1000 - before) / Math.max(result.count ?? 1, 1) };
    };
    await cannon(url, 1, () => ({ method: 'GET', path: `/v1/incidents/${ids[0]}` }), auth);
    const posts: LoadResult[] = [];
    const gets: LoadResult[] = [];
    const steadies: LoadResult[] = [];
    const steadyGets: LoadResult[] = [];
    const rssAfterRoundsMb: number[] = [];
    const cpu: Record<'post' | 'steadyPost' | 'steadyGet', number[]> = {
      post: [],
      steadyPost: [],
      steadyGet: [],
    };
    for (let run = 0; run < runs; run++) {
      const steady = await cpuOf(() => post(STEADY_RATE), 3000);
      steadies.push(steady.result);
      cpu.steadyPost.push(steady.cpu);
      const steadyGet = await cpuOf(() => get(STEADY_RATE));
      steadyGets.push(steadyGet.result);
      cpu.steadyGet.push(steadyGet.cpu);
      // Settled before the GETs, its CPU counted to the POSTs, as `npm run bench` measures
      // them: the background work a run of POSTs leaves (the feeds, the sealer) is theirs, and
      // GETs run into it otherwise (requests go first, but it takes its share of the connection).
      const loaded = await cpuOf(async () => {
        const result = await post();
        await settle(pid);
        return result;
      });
      posts.push(loaded.result);
      cpu.post.push(loaded.cpu);
      gets.push(await get());
      await settle(pid);
      rssAfterRoundsMb.push(rssMb(pid));
    }
    const mid = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(runs / 2)];
    const rssLoadedMb = rssMb(pid);
    return {
      post: median(posts),
      get: median(gets),
      steady: median(steadies),
      steadyGet: median(steadyGets),
      cpuPerPostMs: mid(cpu.post),
      cpuPerSteadyPostMs: mid(cpu.steadyPost),
      cpuPerSteadyGetMs: mid(cpu.steadyGet),
      rssIdleMb,
      rssLoadedMb,
      rssAfterRoundsMb,
    };
  } finally {
    await api.stop();
  }
}

/** A run at the steady rate, with the server process's CPU per request (run and settling). */
export interface SteadyResult extends LoadResult {
  cpuMs: number;
}

/** Where the API under a steady rate keeps its events: a new data directory, or PostgreSQL. */
export type SteadyStore = { embedded: true } | { databaseUrl: string };

export interface SteadyFigures {
  /** 'embedded' or 'PostgreSQL': the API's store. */
  store: string;
  /** The requests a second offered to both servers. */
  rate: number;
  /** POST /v1/incidents on the API: the run of median p99 (its p50 beside it). */
  api: SteadyResult;
  /** The bare Node server's one INSERT on PostgreSQL at the same rate: the run of median p99. */
  bare: SteadyResult;
  runs: { api: SteadyResult[]; bare: SteadyResult[] };
}

/** A server process under the bench: where it answers, its pid, and how to end it. */
interface Served {
  url: string;
  pid: number;
  stop: () => Promise<void>;
}

/**
 * The built API on a new data directory (embedded), or on `store.databaseUrl`; resolves once it
 * answers.
 */
async function startApi(
  auth: Record<string, string>,
  nodeArgs: string[] = [],
  store: SteadyStore = { embedded: true },
): Promise<Served> {
  const dataDir =
    'databaseUrl' in store ? undefined : await mkdtemp(join(tmpdir(), 'truceline-bench-'));
  const port = await freePort();
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !/^(DATABASE_URL|KAFKA_BROKERS|TRUCELINE_.*)$/.test(name),
    ),
  );
  const api = spawn(process.execPath, [...nodeArgs, BUILT_API], {
    env: {
      GLIBC_TUNABLES: MALLOC_TUNABLES,
      ...env,
      PORT: String(port),
      TRUCELINE_JWT_SECRET: JWT_SECRET,
      ...(dataDir === undefined
        ? { DATABASE_URL: (store as { databaseUrl: string }).databaseUrl }
        : { TRUCELINE_DATA_DIR: dataDir }),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise((resolve) => api.once('exit', resolve));
  const stop = async () => {
    api.kill('SIGTERM');
    await exited;
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await untilAnswering(`${url}/v1/incidents`, auth, () => '(its output is above)');
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, pid: api.pid as number, stop };
}

/** The bare INSERT server (bare-server.ts) on `databaseUrl`, a process of its own. */
async function startBare(databaseUrl: string): Promise<Served> {
  const child = spawn(process.execPath, [join(__dirname, 'bare-server.js')], {
    env: { ...process.env, BENCH_DATABASE_URL: databaseUrl },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  return {
    url: `http://127.0.0.1:${line.toString().trim()}`,
    pid: child.pid as number,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * POST /v1/incidents on the API (on `store`) offered at a steady `rate` (evenly paced, each
 * request's latency from when it was due: `paced`), interleaved run by run with the bare INSERT
 * server on PostgreSQL (`bareDatabaseUrl`) at the same rate: the latency a client sees at a load
 * the API can carry, beside what one INSERT behind bare Node costs at that load on this machine.
 * The API first gets a run of its own to warm up (its first seconds compile its code, and
 * PGlite's); each run is followed by the server settling, and the CPU it spent per request
 * counts both.
 */
export async function steadyPostVsBare(
  bareDatabaseUrl: string,
  runs: number,
  durationS: number,
  options: { store?: SteadyStore; rate?: number; nodeArgs?: string[] } = {},
): Promise<SteadyFigures> {
  const { store = { embedded: true }, rate = STEADY_RATE, nodeArgs = [] } = options;
  const auth = {
    authorization: `Bearer ${signToken(JWT_SECRET, { role: 'operator', sub: 'bench' })}`,
  };
  const api = await startApi(auth, nodeArgs, store);
  try {
    const bare = await startBare(bareDatabaseUrl);
    try {
      const post = (server: Served, headers: Record<string, string>, path: string) => {
        const cpu = cpuUs(server.pid);
        return paced(
          server.url,
          durationS,
          (n) => ({ method: 'POST', path, body: report(n) }),
          headers,
          rate,
        ).then(async (result) => {
          await settle(server.pid);
          const cpuMs = (cpuUs(server.pid) - cpu) / Math.max(result.count ?? 1, 1) / 1000;
          return { ...result, cpuMs };
        });
      };
      await post(api, auth, '/v1/incidents');
      const results: SteadyFigures['runs'] = { api: [], bare: [] };
      for (let run = 0; run < runs; run++) {
        // Alternating which goes first, so a neighbour's load lands on both alike.
        const order = run % 2 === 0 ? (['bare', 'api'] as const) : (['api', 'bare'] as const);
        for (const which of order) {
          results[which].push(
            which === 'bare' ? await post(bare, {}, '/x') : await post(api, auth, '/v1/incidents'),
          );
        }
      }
      const medianP99 = (list: SteadyResult[]) =>
        [...list].sort((a, b) => a.p99 - b.p99)[Math.floor(list.length / 2)];
      return {
        store: 'databaseUrl' in store ? 'PostgreSQL' : 'embedded',
        rate,
        api: medianP99(results.api),
        bare: medianP99(results.bare),
        runs: results,
      };
    } finally {
      await bare.stop();
    }
  } finally {
    await api.stop();
  }
}

/** The bench table's row for `steadyPostVsBare`: the ratio is the bare server's p99 over the API's. */
export function steadyRow(figures: SteadyFigures) {
  const fmt = (r: SteadyResult) =>
    `p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms (${Math.round(r.rate)} req/s answered` +
    `${r.failed ? `, ${r.failed} failed` : ''}), ${r.cpuMs.toFixed(2)} ms CPU/request`;
  const rate = figures.rate.toLocaleString('en');
  return {
    figure: `POST /v1/incidents, ${figures.store}, steady ${rate}/s: p50/p99`,
    truceline: fmt(figures.api),
    baselineName: `bare Node server, one INSERT (PostgreSQL), steady ${rate}/s`,
    baseline: fmt(figures.bare),
    ratio: figures.bare.p99 / figures.api.p99,
    details: { ...figures },
  };
}
