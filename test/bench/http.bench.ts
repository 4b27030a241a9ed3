import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { signToken } from '@truceline/config';
import { Pool } from 'pg';
import { ApiProcess } from '../support/api-process';
import { freePort } from '../support/free-port';
import { LoadResult, median } from './load';

export const JWT_SECRET = 'bench-secret-bench-secret-bench-secret';
const CONNECTIONS = 64;

/** A run, with the CPU time the server's process spent per request (the run and its settling). */
export interface HttpResult extends LoadResult {
  cpuMs: number;
}

export interface HttpFigures {
  post: HttpResult;
  get: HttpResult;
  /** Every run, in the order measured: the figures above are their medians. */
  runs: { post: HttpResult[]; get: HttpResult[] };
  rssIdleMb: number;
  rssLoadedMb: number;
}

const TICKS_PER_SECOND = 100;

/**
 * CPU time of a process (user + system), in microseconds; with `thread`, of that thread of it
 * only (the main thread's id is the process's).
 */
export const cpuOf = (pid: number, thread?: number): number => {
  const path = thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`;
  const stat = readFileSync(path, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / TICKS_PER_SECOND;
};

/**
 * Waits until the process uses less than a tenth of a core over half a second (at most 60 s);
 * resolves to how long that took. The work a run leaves behind (projections, services and the
 * sealer catching up) is the run's, and must not land on the next run's figures.
 */
export async function settle(pid: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const cpu = cpuOf(pid);
    await new Promise((resolve) => setTimeout(resolve, 500));
    if (cpuOf(pid) - cpu < 50_000 || Date.now() - started > 60_000) return Date.now() - started;
  }
}

/** One run against a server process, then its settling; CPU per request over both. */
async function measured(pid: number, run: () => Promise<LoadResult>): Promise<HttpResult> {
  const cpu = cpuOf(pid);
  const result = await run();
  await settle(pid);
  return { ...result, cpuMs: (cpuOf(pid) - cpu) / Math.max(result.count ?? 1, 1) / 1000 };
}

const medianOf = (results: HttpResult[]): HttpResult => median(results) as HttpResult;

export const report = (n: number) =>
  JSON.stringify({
    location: { sector: `B-${n % 997}`, frontlineKm: 512.5, lat: 47.6, lon: 35.9 },
    category: 'artillery',
    severity: 'major',
    source: { kind: 'sensor', id: `sensor-${n % 1400}` },
    summary: 'Shelling near the line of contact',
  });

/**
 * autocannon at 64 connections, each sending its next request when its last is answered; the
 * rate is 2xx answers per second of the run. Latency at a given rate: `paced` (load.ts).
 */
export async function cannon(
  url: string,
  durationS: number,
  request: (n: number) => { method: 'GET' | 'POST'; path: string; body?: string },
  headers: Record<string, string>,
): Promise<LoadResult> {
  let n = 0;
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: durationS,
    headers: { 'content-type': 'application/json', ...headers },
    requests: [
      {
        setupRequest: (req: Record<string, unknown>) => {
          const next = request(n++);
          return { ...req, method: next.method, path: next.path, body: next.body };
        },
      },
    ],
  });
  const ok = result['2xx'];
  if (result.non2xx + result.errors + result.timeouts > 0) {
    console.warn(
      `  ${url}: ${result.non2xx} answers other than 2xx, ${result.errors} errors, ` +
        `${result.timeouts} timeouts`,
    );
  }
  // autocannon's own measure of the run (seconds, to 10 ms), not the duration asked for.
  return {
    rate: ok / result.duration,
    count: ok,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failed: result.non2xx + result.errors + result.timeouts,
  };
}

/** Reports `count` breaches one after another; resolves to their incidents' ids (for the GETs). */
export async function reportIncidents(
  url: string,
  auth: Record<string, string>,
  count: number,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const response = await fetch(`${url}/v1/incidents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: report(i),
    });
    if (response.status !== 201) {
      throw new Error(`POST /v1/incidents answered ${response.status}: ${await response.text()}`);
    }
    ids.push(((await response.json()) as { incidentId: string }).incidentId);
  }
  return ids;
}

export const rssMb = (pid: number): number => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
};

/** Truceline's API (the built process) on PostgreSQL (`databaseUrl`) or embedded (`dataDir`). */
export async function truclineHttp(
  store: { databaseUrl: string } | { dataDir: string },
  runs: number,
  durationS: number,
): Promise<HttpFigures> {
  const port = await freePort();
  const api = new ApiProcess({
    PORT: String(port),
    TRUCELINE_JWT_SECRET: JWT_SECRET,
    LOG_LEVEL: 'warn',
    ...('databaseUrl' in store
      ? { DATABASE_URL: store.databaseUrl }
      : { TRUCELINE_DATA_DIR: store.dataDir }),
  });
  api.start();
  try {
    const url = `http://127.0.0.1:${port}`;
    const auth = {
      authorization: `Bearer ${signToken(JWT_SECRET, { role: 'operator', sub: 'bench' })}`,
    };
    await untilAnswering(`${url}/v1/incidents`, auth, () => api.log);
    const pid = api.pid as number;
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const rssIdleMb = rssMb(pid);
    const ids = await reportIncidents(url, auth, 50);
    const post = () =>
      cannon(
        url,
        durationS,
        (n) => ({ method: 'POST', path: '/v1/incidents', body: report(n) }),
        auth,
      );
    const get = () =>
      cannon(
        url,
        durationS,
        (n) => ({ method: 'GET', path: `/v1/incidents/${ids[n % ids.length]}` }),
        auth,
      );
    await cannon(url, 1, () => ({ method: 'GET', path: `/v1/incidents/${ids[0]}` }), auth);
    const posts: HttpResult[] = [];
    const gets: HttpResult[] = [];
    for (let run = 0; run < runs; run++) {
      posts.push(await measured(pid, post));
      gets.push(await measured(pid, get));
    }
    const rssLoadedMb = rssMb(pid);
    return {
      post: medianOf(posts),
      get: medianOf(gets),
      runs: { post: posts, get: gets },
      rssIdleMb,
      rssLoadedMb,
    };
  } finally {
    await api.stop();
  }
}

export async function untilAnswering(
  url: string,
  headers: Record<string, string>,
  log: () => string,
): Promise<void> {
  const giveUpAt = Date.now() + 120_000;
  while (Date.now() < giveUpAt) {
    try {
      const response = await fetch(url, { headers });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the API did not answer at ${url}:\n${log()}`);
}

/** The baseline: a bare Node HTTP server doing one INSERT / one SELECT per request. */
export async function bareHttp(
  databaseUrl: string,
  runs: number,
  durationS: number,
): Promise<Pick<HttpFigures, 'post' | 'get' | 'runs'>> {
  const child = spawn(process.execPath, [join(__dirname, 'bare-server.js')], {
    env: { ...process.env, BENCH_DATABASE_URL: databaseUrl },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const [line] = (await once(child.stdout, 'data')) as [Buffer];
    const url = `http://127.0.0.1:${line.toString().trim()}`;
    const pool = new Pool({ connectionString: databaseUrl, max: 1 });
    const ids: string[] = [];
    try {
      for (let i = 0; i < 50; i++) {
        const id = randomUUID();
        await pool.query('INSERT INTO bare_incidents (id, report) VALUES ($1, $2)', [
          id,
          report(i),
        ]);
        ids.push(id);
      }
    } finally {
      await pool.end();
    }
    await cannon(url, 1, () => ({ method: 'GET', path: `/x/${ids[0]}` }), {});
    const pid = child.pid as number;
    const posts: HttpResult[] = [];
    const gets: HttpResult[] = [];
    for (let run = 0; run < runs; run++) {
      posts.push(
        await measured(pid, () =>
          cannon(url, durationS, (n) => ({ method: 'POST', path: '/x', body: report(n) }), {}),
        ),
      );
      gets.push(
        await measured(pid, () =>
          cannon(url, durationS, (n) => ({ method: 'GET', path: `/x/${ids[n % 50]}` }), {}),
        ),
      );
    }
    return { post: medianOf(posts), get: medianOf(gets), runs: { post: posts, get: gets } };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}
