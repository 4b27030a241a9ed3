import { Client } from 'pg';
import { openDatabase, SqlClient, SqlEventStore } from '@truceline/event-store';
import { buildInto, INCIDENTS, migrateProjection, PolicyRegistry } from '@truceline/projections';
import { insertGeneratedHistory } from '@truceline/testing';
import { postgresCpu, postmasterOf } from './postgres-cpu';

/** One timed phase: events per second, and CPU per event (µs) of this process and the server. */
export interface PhaseFigures {
  /** What the phase processed (events). */
  events: number;
  rate: number;
  nodeCpuPerEvent: number;
  /** Every process of the PostgreSQL server; null when the server is not on this machine. */
  postgresCpuPerEvent: number | null;
}

export interface ReplayFigures {
  events: number;
  /** Events per second of each, medians of the runs. */
  replay: number;
  scan: number;
  runs: { replay: PhaseFigures; scan: PhaseFigures }[];
}

const PAGE = 5000;

/** Incidents of ten events each in the replay figure's log: BENCH_REPLAY_INCIDENTS, 500k events. */
export const REPLAY_INCIDENTS = Number(process.env.BENCH_REPLAY_INCIDENTS ?? 50_000);
/** Events per transaction of the replay (BENCH_REPLAY_PAGE; 1 applies event by event). */
const REPLAY_PAGE = Number(process.env.BENCH_REPLAY_PAGE ?? 5_000);

/**
 * The baseline: node-postgres reading the same rows in pages as large (keyset on position),
 * data and metadata as text handed to JSON.parse — what any replay has to pay at least. Its
 * connection stays open for `measure` (the server's CPU is read while its backend lives).
 */
export async function rawScan(url: string, measure: () => Promise<void>): Promise<number> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    let after = 0;
    let parsed = 0;
    for (;;) {
      const { rows } = await client.query<{ position: string; data: string; metadata: string }>(
        `SELECT position, id, stream_id, revision, type, schema_version, occurred_at, recorded_at,
                data::text AS data, metadata::text AS metadata
           FROM events WHERE position > $1 ORDER BY position LIMIT $2`,
        [after, PAGE],
      );
      if (rows.length === 0) break;
      for (const row of rows) {
        JSON.parse(row.data);
        JSON.parse(row.metadata);
        parsed++;
      }
      after = Number(rows[rows.length - 1].position);
    }
    await measure();
    return parsed;
  } finally {
    await client.end();
  }
}

/** The incident view rebuilt from the whole log into a schema of its own, as `replay` does. */
async function replay(
  url: string,
  sql: SqlClient,
  store: SqlEventStore,
  schema: string,
  measure: () => Promise<void>,
): Promise<number> {
  const policies = new PolicyRegistry(store);
  await policies.refresh();
  const result = await buildInto(sql, policies, INCIDENTS, schema, await store.headPosition(), {
    batchSize: REPLAY_PAGE,
    databaseUrl: url,
  });
  await measure();
  return result.events;
}

/**
 * Times `run`, which calls `measure` once its work is done (before it lets go of its
 * connections), and returns what it processed.
 */
export async function timed(
  postmaster: number | null,
  run: (measure: () => Promise<void>) => Promise<number>,
): Promise<PhaseFigures> {
  const server = postmaster === null ? null : await postgresCpu(postmaster);
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  let seconds = 0;
  let used = { user: 0, system: 0 };
  let serverUsed: number | null = null;
  const events = await run(async () => {
    seconds = Number(process.hrtime.bigint() - started) / 1e9;
    used = process.cpuUsage(cpu);
    if (postmaster !== null && server !== null)
      serverUsed = (await postgresCpu(postmaster)) - server;
  });
  return {
    events,
    rate: events / seconds,
    nodeCpuPerEvent: (used.user + used.system) / events,
    postgresCpuPerEvent: serverUsed === null ? null : serverUsed / events,
  };
}

const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * Replay of the incident view vs a raw scan + JSON.parse of the same rows, interleaved run by
 * run on one database holding `incidents` generated incidents (ten events each).
 */
export async function replayVsScan(
  url: string,
  incidents: number,
  runs: number,
): Promise<ReplayFigures> {
  const sql = await openDatabase({ databaseUrl: url, poolSize: 4 });
  const store = new SqlEventStore(sql);
  try {
    await store.init();
    await migrateProjection(sql, INCIDENTS);
    await new PolicyRegistry(store).load();
    const events = (await insertGeneratedHistory(sql, incidents)) - 1;
    await sql.exec('VACUUM ANALYZE events');
    await rawScan(url, async () => undefined); // warm the cache for both
    const postmaster = await postmasterOf(sql);
    const figures: { replay: PhaseFigures; scan: PhaseFigures }[] = [];
    for (let run = 0; run < runs; run++) {
      const scan = await timed(postmaster, (measure) => rawScan(url, measure));
      const schema = `bench_replay_${run}`;
      const rebuilt = await timed(postmaster, (measure) =>
        replay(url, sql, store, schema, measure),
      );
      await sql.exec(`DROP SCHEMA ${schema} CASCADE`);
      figures.push({ replay: rebuilt, scan });
    }
    return {
      events,
      replay: median(figures.map((f) => f.replay.rate)),
      scan: median(figures.map((f) => f.scan.rate)),
      runs: figures,
    };
  } finally {
    await store.close();
    await sql.close();
  }
}
