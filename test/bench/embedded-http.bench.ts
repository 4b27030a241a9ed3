import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signToken } from '@truceline/config';
import { BUILT_API } from '../support/api-process';
import { freePort } from '../support/free-port';
import {
  cannon,
  cpuOf as cpuUs,
  JWT_SECRET,
  report,
  reportIncidents,
  rssMb,
  untilAnswering,
} from './http.bench';
import { LoadResult, median } from './load';

/** The steady rate at which POST and GET are offered (target: POST p99 ≤ 100 ms at 200/s). */
export const STEADY_RATE = Number(process.env.BENCH_STEADY_RATE ?? 200);

export interface EmbeddedHttpFigures {
  /** POST /v1/incidents at 64 connections, as fast as it answers. */
  post: LoadResult;
  /** GET /v1/incidents/{id} at 64 connections. */
  get: LoadResult;
  /** POST /v1/incidents offered at STEADY_RATE (autocannon's overall rate). */
  steady: LoadResult;
  /** GET /v1/incidents/{id} offered at STEADY_RATE. */
  steadyGet: LoadResult;
  /** CPU of the API process per POST answered at 64 connections, ms (user + system). */
  cpuPerPostMs: number;
  /** The same per POST answered at STEADY_RATE (its reactions given 3 s to finish), and per GET. */
  cpuPerSteadyPostMs: number;
  cpuPerSteadyGetMs: number;
  rssIdleMb: number;
  rssLoadedMb: number;
}

/**
 * The built API on the embedded store (a new data directory), as a process of its own:
 * RSS idle, then `runs` rounds of POST and GET offered at a steady STEADY_RATE, then POST and
 * GET at 64 connections as fast as it answers, then RSS after the load. `nodeArgs` go to the API's node (e.g. --cpu-prof).
 */
export async function embeddedHttp(
  runs: number,
  durationS: number,
  nodeArgs: string[] = [],
): Promise<EmbeddedHttpFigures> {
  const dataDir = await mkdtemp(join(tmpdir(), 'truceline-bench-'));
  const port = await freePort();
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !/^(DATABASE_URL|KAFKA_BROKERS|TRUCELINE_.*)$/.test(name),
    ),
  );
  const api = spawn(process.execPath, [...nodeArgs, BUILT_API], {
    env: {
      ...env,
      PORT: String(port),
      TRUCELINE_JWT_SECRET: JWT_SECRET,
      TRUCELINE_DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise((resolve) => api.once('exit', resolve));
  try {
    const url = `http://127.0.0.1:${port}`;
    const auth = {
      authorization: `Bearer ${signToken(JWT_SECRET, { role: 'operator', sub: 'bench' })}`,
    };
    await untilAnswering(`${url}/v1/incidents`, auth, () => '(its output is above)');
    const pid = api.pid as number;
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const rssIdleMb = rssMb(pid);
    const ids = await reportIncidents(url, auth, 50);
    const post = (rate?: number) =>
      cannon(
        url,
        durationS,
        (n) => ({ method: 'POST', path: '/v1/incidents', body: report(n) }),
        auth,
        rate,
      );
    const get = (rate?: number) =>
      cannon(
        url,
        durationS,
        (n) => ({ method: 'GET', path: `/v1/incidents/${ids[n % ids.length]}` }),
        auth,
        rate,
      );
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
      const loaded = await cpuOf(() => post());
      posts.push(loaded.result);
      cpu.post.push(loaded.cpu);
      gets.push(await get());
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
    };
  } finally {
    api.kill('SIGTERM');
    await exited;
    await rm(dataDir, { recursive: true, force: true });
  }
}
