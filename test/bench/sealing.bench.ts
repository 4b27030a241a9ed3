import { randomUUID } from 'node:crypto';
import { Session } from 'node:inspector';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { openDatabase, SqlClient, SqlEventStore } from '@truceline/event-store';
import {
  generateSigningKey,
  Ledger,
  migrateLedger,
  parseSigningKey,
  WorkerSealing,
} from '@truceline/ledger';
import { BenchSettings, eventsOf } from './append.bench';
import { drive, LoadResult, median } from './load';
import { postgresCpu, postgresProcesses, postmasterOf } from './postgres-cpu';

/** CPU time per appended event, µs, of one kind of slice. */
export interface CpuPerEvent {
  /** The bench process's main thread: the writers (and the sealer's bookkeeping when on). */
  node: number;
  /** The sealing thread (0 without one, or off). */
  sealingThread: number;
  /**
   * The process's other threads: V8's (garbage collection and compiling, for the main thread's
   * heap and the sealing thread's alike, at the main thread's priority) and libuv's.
   */
  otherThreads: number;
  /** Every process of the PostgreSQL server (absent when it is not on this machine, or PGlite). */
  postgres?: number;
  /**
   * Time spent runnable but waiting for a core (the scheduler's run delay): the main thread,
   * and the PostgreSQL server's processes alive now. What a neighbour at any priority takes from
   * the appends shows here, even when it is not CPU the appends would have used. During the
   * slices only, not the catch-up after.
   */
  waitingNode: number;
  waitingPostgres?: number;
}

export interface SealingFigures {
  engine: 'postgres' | 'pglite';
  /** Where the sealer read and hashed. */
  sealing: 'sealing thread' | "appends' thread";
  sealingOff: LoadResult;
  sealingOn: LoadResult;
  /** A second kind of slice with sealing off, measured like the others: the A/A baseline. */
  sealingOffAgain: LoadResult;
  /** Events sealed by the end, and the checkpoints signed (every one during the "on" slices). */
  sealed: number;
  checkpoints: number;
  /**
   * At the end of each "on" slice: its appended events the sealer had not sealed yet (it is
   * behind the appends by design: at the lowest priority it takes only the CPU they leave).
   */
  unsealedAtEnd: number[];
  /** Then, with the writers stopped: how long until it had sealed up to the head, ms. */
  catchUpMs: number[];
  /** Rates of each round's "on" slice over its "off" slice; the median is the robust figure. */
  pairRatios: number[];
  medianPairRatio: number;
  /** The same for each round's two "off" slices (the second over the first): the noise. */
  aaPairRatios: number[];
  medianAaPairRatio: number;
  /**
   * CPU per appended event over all slices of each kind, "on" including its catch-up. Unlike
   * the rates, these hardly move with the neighbours' load.
   */
  cpuPerEvent: { off: CpuPerEvent; on: CpuPerEvent; offAgain: CpuPerEvent };
  /**
   * PostgreSQL's CPU and run delay per appended event, µs, by what each process serves (the
   * appends' pool, which also stores the sealer's runs; the sealer's reading connection; the
   * WAL writer…), of the processes alive at both ends of a slice.
   */
  postgresByName?: Record<Kind, Record<string, { cpu: number; wait: number }>>;
  /** With `sustainedMs`: the sealer running through that long a stretch of appends. */
  sustained?: SustainedSealing;
}

/** The sealer through a long stretch of appends at full load, then after it. */
export interface SustainedSealing {
  seconds: number;
  events: number;
  /** Each second: events appended but not sealed yet. */
  unsealedEachSecond: number[];
  /** Checkpoints signed during the stretch, and the longest time between two (from its start). */
  checkpoints: number;
  longestGapMs: number;
  /** The appends stopped: how long until the sealer had sealed up to the head. */
  catchUpMs: number;
}

/** Rounds of three slices (off, on, off again) per run. */
const ROUNDS = 3;

/**
 * The orders of the rounds, taken in turn across runs: every kind of slice in every place, and
 * after every other kind, equally often (a Williams design), so neither the table's growth nor
 * what the slice before left behind favours one kind.
 */
type Kind = 'off' | 'on' | 'offAgain';
const ORDERS: Kind[][] = [
  ['off', 'on', 'offAgain'],
  ['on', 'offAgain', 'off'],
  ['offAgain', 'off', 'on'],
  ['off', 'offAgain', 'on'],
  ['on', 'off', 'offAgain'],
  ['offAgain', 'on', 'off'],
];

/**
 * A pause before every slice, once the one before it (and the sealer's catch-up after an "on"
 * slice) is over: the server's background work gets the same quiet before each kind.
 */
const SETTLE_MS = 300;

/** The slices of one run as one result: every event over the whole time, the median latencies. */
function combine(slices: LoadResult[]): LoadResult {
  const seconds = slices.reduce((sum, r) => sum + (r.count ?? 0) / r.rate, 0);
  const count = slices.reduce((sum, r) => sum + (r.count ?? 0), 0);
  const mid = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];
  return {
    rate: count / seconds,
    count,
    p50: mid(slices.map((r) => r.p50)),
    p99: mid(slices.map((r) => r.p99)),
  };
}

const middle = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];

/**
 * CPU time (µs) this process's threads have run, from the scheduler's own count (Linux): the
 * main thread, the sealing thread and all the others. One clock for all three: the process's
 * getrusage total counts otherwise, and the difference of the two is not the other threads'.
 */
async function threadsCpu(
  sealingThread: number | null | undefined,
): Promise<{ main: number; sealing: number; other: number }> {
  const used = { main: 0, sealing: 0, other: 0 };
  for (const tid of await readdir('/proc/self/task').catch(() => [])) {
    const text = await readFile(`/proc/self/task/${tid}/schedstat`, 'utf8').catch(() => null);
    if (text === null) continue;
    const us = Number(text.split(' ')[0]) / 1_000;
    if (Number(tid) === process.pid) used.main += us;
    else if (Number(tid) === sealingThread) used.sealing += us;
    else used.other += us;
  }
  return used;
}

/**
 * Run delay (µs) so far: this process's main thread, and the living processes of the server
 * whose postmaster is given (Linux schedstat, its second field).
 */
async function waiting(postmaster: number | null): Promise<{ node: number; postgres: number }> {
  const delayOf = async (file: string) => {
    const text = await readFile(file, 'utf8').catch(() => null);
    return text === null ? 0 : Number(text.split(' ')[1]) / 1_000;
  };
  const node = await delayOf(`/proc/self/task/${process.pid}/schedstat`);
  let postgres = 0;
  if (postmaster !== null) {
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => null);
      if (stat === null) continue;
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === postmaster) postgres += await delayOf(`/proc/${entry}/schedstat`);
    }
  }
  return { node, postgres };
}

/**
 * CPU time and run delay (µs) so far of each living PostgreSQL process, summed by what it serves
 * (named as `postgresProcesses` names it).
 */
async function postgresByName(sql: SqlClient): Promise<Map<string, { cpu: number; wait: number }>> {
  const byName = new Map<string, { cpu: number; wait: number }>();
  for (const { pid, name } of await postgresProcesses(sql)) {
    const text = await readFile(`/proc/${pid}/schedstat`, 'utf8').catch(() => null);
    if (text === null) continue;
    const [cpu, wait] = text.split(' ').map((n) => Number(n) / 1_000);
    const sum = byName.get(name) ?? { cpu: 0, wait: 0 };
    byName.set(name, { cpu: sum.cpu + cpu, wait: sum.wait + wait });
  }
  return byName;
}

/**
 * Appends with the sealer running behind them against the same appends without it (SPEC §10:
 * sealing never slows appends), interleaved on one database — and against the same appends
 * without it again, measured the same way (an A/A comparison in the same run), so that the
 * noise any difference must stand out of is in the same figures. The sealer runs as in the
 * API: polling every 250 ms, a checkpoint at least every 5 s, and on PostgreSQL on a sealing
 * thread at the lowest priority with its own connection; on PGlite (`url` null, in memory) on
 * the thread of the appends, which is the database's too.
 *
 * Each run is cut into rounds of three 1-s slices (sealing off, on, off again) in the orders of
 * a Latin square, so each kind of slice holds each place equally (the table grows and later
 * slices are slower) and all three see the same neighbours. Before each "on" slice the sealer
 * first catches up, outside the measurement, with what the others appended (in the API it
 * always runs); at its end the events it has not sealed yet are counted, then, the writers
 * stopped, the time it takes to catch up, whose CPU counts to the slice.
 */
export async function appendWithSealing(
  url: string | null,
  writers: number,
  settings: BenchSettings,
  options: {
    sustainedMs?: number;
    /** PostgreSQL: seal on the appends' thread instead (as before the sealing thread). */
    inline?: boolean;
  } = {},
): Promise<SealingFigures> {
  // Each connection's backend named, so the server's CPU is told apart by whom it serves.
  const named = (name: string) => {
    const withName = new URL(url!);
    withName.searchParams.set('application_name', name);
    return withName.toString();
  };
  const sql = await openDatabase(
    url ? { databaseUrl: named('appends'), poolSize: writers + 2 } : { inMemory: true },
  );
  const store = new SqlEventStore(sql);
  await store.init();
  await migrateLedger(sql);
  // One sealing thread for the whole run, as the API keeps its own: started and warmed once,
  // not once per slice.
  const thread =
    url && !options.inline ? await WorkerSealing.start(named('sealer reading')) : undefined;
  const ledger = new Ledger(sql, store, parseSigningKey(generateSigningKey('truceline/bench')), {
    sealingThread: thread,
  });
  const append = async (w: number, i: number) => {
    await store.append(`bench-${w}-${randomUUID()}`, eventsOf(1, i), {
      expectedRevision: 'no-stream',
    });
    return 1;
  };
  const sealedPosition = async () => {
    const { rows } = await sql.query<{ p: string }>(
      'SELECT coalesce(max(positions[cardinality(positions)]), 0) AS p FROM ' +
        '(SELECT positions FROM ledger_leaf_runs ORDER BY first_leaf DESC LIMIT 1) last',
    );
    return Number(rows[0].p);
  };
  try {
    await drive(writers, 300, append);
    const results: Record<Kind, LoadResult[]> = { off: [], on: [], offAgain: [] };
    const unsealedAtEnd: number[] = [];
    const catchUpMs: number[] = [];
    const pairRatios: number[] = [];
    const aaPairRatios: number[] = [];
    // BENCH_SECONDS / 4: 1-s slices by default, as before the A/A slices were added.
    const sliceMs = Math.max(500, settings.durationMs / 4);
    const postmaster = url ? await postmasterOf(sql) : null;
    const byName: Record<Kind, Map<string, { cpu: number; wait: number }>> = {
      off: new Map(),
      on: new Map(),
      offAgain: new Map(),
    };
    const zero = () => ({
      node: 0,
      thread: 0,
      other: 0,
      postgres: 0,
      waitingNode: 0,
      waitingPostgres: 0,
      events: 0,
    });
    const cpu: Record<Kind, ReturnType<typeof zero>> = {
      off: zero(),
      on: zero(),
      offAgain: zero(),
    };
    /** Drives one slice, adding its CPU time and events to `into`; `after` runs before the count. */
    const measured = async (kind: Kind, threadId?: number | null, after?: () => Promise<void>) => {
      const threads = await threadsCpu(threadId);
      const into = cpu[kind];
      const server = await postgresCpu(postmaster);
      const byNameBefore = postmaster === null ? null : await postgresByName(sql);
      const waited = await waiting(postmaster);
      const result = await drive(writers, sliceMs, append);
      const waitedAfter = await waiting(postmaster);
      await after?.();
      const used = await threadsCpu(threadId);
      into.node += used.main - threads.main;
      into.thread += used.sealing - threads.sealing;
      into.other += used.other - threads.other;
      into.postgres += ((await postgresCpu(postmaster)) ?? 0) - (server ?? 0);
      if (byNameBefore) {
        for (const [name, now] of await postgresByName(sql)) {
          const before = byNameBefore.get(name) ?? { cpu: 0, wait: 0 };
          const sum = byName[kind].get(name) ?? { cpu: 0, wait: 0 };
          byName[kind].set(name, {
            cpu: sum.cpu + now.cpu - before.cpu,
            wait: sum.wait + now.wait - before.wait,
          });
        }
      }
      into.waitingNode += waitedAfter.node - waited.node;
      into.waitingPostgres += waitedAfter.postgres - waited.postgres;
      into.events += result.count ?? 0;
      return result;
    };
    const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const slice = async (kind: Kind): Promise<LoadResult> => {
      if (kind !== 'on') {
        await settle();
        return measured(kind);
      }
      await ledger.sealer.sealPending();
      ledger.sealer.start();
      await settle();
      return measured('on', thread?.threadId, async () => {
        const head = await store.headPosition();
        const { rows } = await sql.query<{ n: string }>(
          'SELECT count(*) AS n FROM events WHERE position <= $1 AND position > $2',
          [head, await sealedPosition()],
        );
        unsealedAtEnd.push(Number(rows[0].n));
        // The running sealer catches up by itself once the appends stop: timed, not helped.
        const stopped = performance.now();
        // Looked at every 20 ms: often enough to time it, seldom enough not to load this thread.
        while ((await sealedPosition()) < head) await new Promise((r) => setTimeout(r, 20));
        catchUpMs.push(performance.now() - stopped);
      }).finally(() => ledger.sealer.stop());
    };
    for (let run = 0; run < settings.runs; run++) {
      const slices: Record<Kind, LoadResult[]> = { off: [], on: [], offAgain: [] };
      for (let round = 0; round < ROUNDS; round++) {
        const order = ORDERS[(run * ROUNDS + round) % ORDERS.length];
        const got = {} as Record<Kind, LoadResult>;
        for (const kind of order) got[kind] = await slice(kind);
        for (const kind of order) slices[kind].push(got[kind]);
        pairRatios.push(got.on.rate / got.off.rate);
        aaPairRatios.push(got.offAgain.rate / got.off.rate);
      }
      for (const kind of ['off', 'on', 'offAgain'] as const)
        results[kind].push(combine(slices[kind]));
    }
    const sustained = options.sustainedMs
      ? await sustain(options.sustainedMs, writers, append, ledger, sql, sealedPosition)
      : undefined;
    const latest = await ledger.latest();
    const { rows } = await sql.query<{ n: string }>('SELECT count(*) AS n FROM ledger_checkpoints');
    const perEvent = (c: ReturnType<typeof zero>): CpuPerEvent => ({
      node: c.node / c.events,
      sealingThread: c.thread / c.events,
      otherThreads: c.other / c.events,
      waitingNode: c.waitingNode / c.events,
      ...(postmaster === null
        ? {}
        : { postgres: c.postgres / c.events, waitingPostgres: c.waitingPostgres / c.events }),
    });
    return {
      engine: url ? 'postgres' : 'pglite',
      sealing: thread ? 'sealing thread' : "appends' thread",
      sealingOff: median(results.off),
      sealingOn: median(results.on),
      sealingOffAgain: median(results.offAgain),
      sealed: latest?.treeSize ?? 0,
      checkpoints: Number(rows[0].n),
      unsealedAtEnd,
      catchUpMs,
      pairRatios,
      medianPairRatio: middle(pairRatios),
      aaPairRatios,
      medianAaPairRatio: middle(aaPairRatios),
      postgresByName: Object.fromEntries(
        (['off', 'on', 'offAgain'] as const).map((kind) => [
          kind,
          Object.fromEntries(
            [...byName[kind]].map(([name, { cpu: used, wait }]) => [
              name,
              { cpu: used / cpu[kind].events, wait: wait / cpu[kind].events },
            ]),
          ),
        ]),
      ) as SealingFigures['postgresByName'],
      cpuPerEvent: {
        off: perEvent(cpu.off),
        on: perEvent(cpu.on),
        offAgain: perEvent(cpu.offAgain),
      },
      ...(sustained ? { sustained } : {}),
    };
  } finally {
    await ledger.sealer.stop();
    await thread?.close();
    await store.close();
    await sql.close();
  }
}

/**
 * The sealer as the API runs it through `ms` of appends at full load: each second the events
 * it has not sealed yet; the checkpoints it signs meanwhile (SPEC §10: at least every 10 s
 * while events arrive, covering what is sealed), and once the appends stop, its catch-up.
 */
async function sustain(
  ms: number,
  writers: number,
  append: (w: number, i: number) => Promise<number>,
  ledger: Ledger,
  sql: SqlClient,
  sealedPosition: () => Promise<number>,
): Promise<SustainedSealing> {
  await ledger.sealer.sealPending();
  const signedAt = async () => {
    const { rows } = await sql.query<{ at: Date }>(
      'SELECT signed_at AS at FROM ledger_checkpoints ORDER BY tree_size',
    );
    return rows.map((row) => new Date(row.at).getTime());
  };
  const before = (await signedAt()).length;
  const started = Date.now();
  ledger.sealer.start();
  const unsealedEachSecond: number[] = [];
  let appending = true;
  const sampling = (async () => {
    while (appending) {
      await new Promise((r) => setTimeout(r, 1_000));
      const { rows } = await sql.query<{ n: string }>(
        'SELECT count(*) AS n FROM events WHERE position > $1',
        [await sealedPosition()],
      );
      unsealedEachSecond.push(Number(rows[0].n));
    }
  })();
  const result = await drive(writers, ms, append);
  appending = false;
  const ended = Date.now();
  const head = Number(
    (await sql.query<{ p: string }>('SELECT max(position) AS p FROM events')).rows[0].p,
  );
  while ((await sealedPosition()) < head) await new Promise((r) => setTimeout(r, 20));
  const catchUpMs = Date.now() - ended;
  await sampling;
  await ledger.sealer.stop();
  const during = (await signedAt()).slice(before).filter((at) => at <= ended);
  const marks = [started, ...during, ended];
  const longestGapMs = Math.max(...marks.slice(1).map((at, i) => at - marks[i]));
  return {
    seconds: ms / 1000,
    events: result.count ?? 0,
    unsealedEachSecond,
    checkpoints: during.length,
    longestGapMs,
    catchUpMs,
  };
}

/**
 * With BENCH_PROFILE=FILE, a CPU profile of this process from now until the returned function
 * is called (only the sealing, not the appends before it), written to FILE.
 */
async function startProfile(): Promise<(() => Promise<void>) | undefined> {
  const file = process.env.BENCH_PROFILE;
  if (!file) return undefined;
  const session = new Session();
  session.connect();
  const post = (method: string) =>
    new Promise<unknown>((resolve, reject) =>
      session.post(method, (error, result) => (error ? reject(error) : resolve(result))),
    );
  await post('Profiler.enable');
  await post('Profiler.start');
  return async () => {
    const { profile } = (await post('Profiler.stop')) as { profile: unknown };
    await writeFile(file, JSON.stringify(profile));
    session.disconnect();
  };
}

export interface SealingCost {
  events: number;
  /** CPU time per sealed event, µs: the sealing process, and the PostgreSQL server when local. */
  node: number;
  postgres?: number;
}

/**
 * What sealing itself costs, apart from any appends: `events` are appended with the sealer
 * off, then one sealer seals them all (batches of its default size) while nothing else runs on
 * the database, and the CPU of this process and of the PostgreSQL server is divided by the
 * events. Steadier than the rates under load, it is the figure to compare sealer changes by.
 */
export async function sealingCost(url: string, events: number): Promise<SealingCost> {
  const sql = await openDatabase({ databaseUrl: url, poolSize: 10 });
  const store = new SqlEventStore(sql);
  await store.init();
  await migrateLedger(sql);
  const ledger = new Ledger(sql, store, parseSigningKey(generateSigningKey('truceline/bench')));
  try {
    await ledger.sealer.sealPending();
    const writers = 8;
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let i = w; i < events; i += writers) {
          await store.append(`cost-${w}-${randomUUID()}`, eventsOf(1, i), {
            expectedRevision: 'no-stream',
          });
        }
      }),
    );
    const postmaster = await postmasterOf(sql);
    const server = await postgresCpu(postmaster);
    const before = await sql.query<{ n: string }>('SELECT tree_size AS n FROM ledger_state');
    const profile = await startProfile();
    const node = process.cpuUsage();
    const size = await ledger.sealer.sealPending();
    const used = process.cpuUsage(node);
    await profile?.();
    const postgres =
      postmaster === null ? null : ((await postgresCpu(postmaster)) ?? 0) - (server ?? 0);
    const sealed = size - Number(before.rows[0].n);
    return {
      events: sealed,
      node: (used.user + used.system) / sealed,
      ...(postgres === null ? {} : { postgres: postgres / sealed }),
    };
  } finally {
    await ledger.sealer.stop();
    await store.close();
    await sql.close();
  }
}
