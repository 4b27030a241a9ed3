import { randomUUID } from 'node:crypto';
import { Session } from 'node:inspector';
import { writeFile } from 'node:fs/promises';
import { openDatabase, SqlEventStore } from '@truceline/event-store';
import { generateSigningKey, Ledger, migrateLedger, parseSigningKey } from '@truceline/ledger';
import { BenchSettings, eventsOf } from './append.bench';
import { drive, LoadResult, median } from './load';
import { postgresCpu, postmasterOf } from './postgres-cpu';

export interface SealingFigures {
  sealingOff: LoadResult;
  sealingOn: LoadResult;
  /** Events sealed while the sealing runs took place, and the checkpoints signed. */
  sealed: number;
  checkpoints: number;
  /**
   * At the end of each sealing run: events appended in it that were not sealed yet. A sealer
   * that fell behind would make appends look cheap by not doing its work; this shows it kept up
   * (about one poll interval's worth of appends at most).
   */
  unsealedAtEnd: number[];
  /** Each adjacent pair of slices, sealing on over off: the median is the robust figure. */
  pairRatios: number[];
  medianPairRatio: number;
  /**
   * CPU time per appended event, in µs, over all slices of each kind: the bench's Node process
   * (the writers, and the sealer when on) and the PostgreSQL server (every process of it; only
   * when it runs on this machine). Unlike the rates, these hardly move with the neighbours'
   * load: what sealing costs shows as the difference.
   */
  cpuPerEvent?: { node: { off: number; on: number }; postgres?: { off: number; on: number } };
}

export interface SealingBenchOptions {
  /**
   * An A/A run: the "on" slices run without the sealer (nothing sealed before, during or after
   * them), so the figures show what the harness measures when both sides are the same: the
   * noise any difference must stand out of.
   */
  aa?: boolean;
}

/** Slices per run: each run alternates sealing off and on in slices this many times. */
const SLICES = 4;

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

/**
 * Appends with the sealer running behind them against the same appends without it (SPEC §10:
 * sealing never slows appends), interleaved run by run on one database. The sealer runs as in
 * the API: polling every 250 ms, a checkpoint at least every 5 s.
 *
 * So that the comparison is fair both ways, and holds on a shared machine whose load swings
 * within seconds: each run is cut into slices of sealing off and on, in alternating order
 * (off-on, on-off, …: the table grows and later slices are slower), so both see the same
 * neighbours; before each sealing slice the sealer first
 * catches up, outside the measurement, with what the runs without it appended (in the API it
 * never has such a backlog: it always runs); and each sealing run ends with the count of its
 * events still unsealed, so a sealer that kept appends fast by falling behind would show.
 */
export async function appendWithSealing(
  url: string,
  writers: number,
  settings: BenchSettings,
  options: SealingBenchOptions = {},
): Promise<SealingFigures> {
  const aa = options.aa ?? false;
  const sql = await openDatabase({ databaseUrl: url, poolSize: writers + 2 });
  const store = new SqlEventStore(sql);
  await store.init();
  await migrateLedger(sql);
  const ledger = new Ledger(sql, store, parseSigningKey(generateSigningKey('truceline/bench')));
  const append = async (w: number, i: number) => {
    await store.append(`bench-${w}-${randomUUID()}`, eventsOf(1, i), {
      expectedRevision: 'no-stream',
    });
    return 1;
  };
  try {
    await drive(writers, 300, append);
    const off: LoadResult[] = [];
    const on: LoadResult[] = [];
    const unsealedAtEnd: number[] = [];
    const pairRatios: number[] = [];
    const sliceMs = Math.max(500, settings.durationMs / SLICES);
    const postmaster = await postmasterOf(sql);
    const cpu = {
      off: { node: 0, postgres: 0, events: 0 },
      on: { node: 0, postgres: 0, events: 0 },
    };
    /** Drives one slice, adding its CPU time and events to `into`; `stop` runs before the count. */
    const measured = async (into: typeof cpu.on, stop?: () => Promise<void>) => {
      const node = process.cpuUsage();
      const server = await postgresCpu(postmaster);
      const result = await drive(writers, sliceMs, append);
      await stop?.();
      const used = process.cpuUsage(node);
      into.node += used.user + used.system;
      into.postgres += ((await postgresCpu(postmaster)) ?? 0) - (server ?? 0);
      into.events += result.count ?? 0;
      return result;
    };
    const withoutSealing = () => measured(cpu.off);
    const withSealing = async () => {
      if (aa) return measured(cpu.on);
      await ledger.sealer.sealPending();
      ledger.sealer.start();
      // The CPU of the slice includes sealing all of its events: what the sealer had not
      // reached at the end (counted first) is sealed before the measurement stops.
      return measured(cpu.on, async () => {
        const head = await store.headPosition();
        await ledger.sealer.stop();
        const { rows } = await sql.query<{ n: string }>(
          'SELECT count(*) AS n FROM events WHERE position <= $1 AND position > ' +
            '(SELECT coalesce(max(positions[cardinality(positions)]), 0) FROM ' +
            '(SELECT positions FROM ledger_leaf_runs ORDER BY first_leaf DESC LIMIT 1) last)',
          [head],
        );
        unsealedAtEnd.push(Number(rows[0].n));
        await ledger.sealer.sealPending();
      });
    };
    for (let run = 0; run < settings.runs; run++) {
      const offSlices: LoadResult[] = [];
      const onSlices: LoadResult[] = [];
      for (let slice = 0; slice < SLICES; slice++) {
        if ((run * SLICES + slice) % 2 === 0) {
          offSlices.push(await withoutSealing());
          onSlices.push(await withSealing());
        } else {
          onSlices.push(await withSealing());
          offSlices.push(await withoutSealing());
        }
        pairRatios.push(onSlices[slice].rate / offSlices[slice].rate);
      }
      off.push(combine(offSlices));
      on.push(combine(onSlices));
    }
    const latest = await ledger.latest();
    const { rows } = await sql.query<{ n: string }>('SELECT count(*) AS n FROM ledger_checkpoints');
    return {
      sealingOff: median(off),
      sealingOn: median(on),
      sealed: latest?.treeSize ?? 0,
      checkpoints: Number(rows[0].n),
      unsealedAtEnd,
      pairRatios,
      medianPairRatio: [...pairRatios].sort((a, b) => a - b)[pairRatios.length >> 1],
      cpuPerEvent: {
        node: { off: cpu.off.node / cpu.off.events, on: cpu.on.node / cpu.on.events },
        ...(postmaster === null
          ? {}
          : {
              postgres: {
                off: cpu.off.postgres / cpu.off.events,
                on: cpu.on.postgres / cpu.on.events,
              },
            }),
      },
    };
  } finally {
    await ledger.sealer.stop();
    await store.close();
    await sql.close();
  }
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
