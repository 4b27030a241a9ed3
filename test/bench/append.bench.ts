import { randomUUID } from 'node:crypto';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { NewEvent } from '@truceline/domain';
import { EventStore, openDatabase, SqlClient, SqlEventStore } from '@truceline/event-store';
import { Pool } from 'pg';
import { drive, LoadResult, median } from './load';
import { postgresCpu, postmasterOf } from './postgres-cpu';

export interface BenchSettings {
  runs: number;
  durationMs: number;
}

/** A BreachReported-sized event (about 400 bytes of JSON). */
const breachData = (n: number) => ({
  location: { sector: `S-${n % 97}`, frontlineKm: 512.5, lat: 47.6, lon: 35.9 },
  category: 'artillery',
  severity: 'major',
  source: { kind: 'sensor', id: `sensor-${n % 1400}` },
  summary: 'Shelling near the line of contact, three impacts observed by the sensor',
});
const metadataOf = () => ({
  correlationId: randomUUID(),
  causationId: null,
  actor: { id: 'bench', role: 'service' as const },
  policyVersion: 1,
});
export const eventsOf = (count: number, n: number): NewEvent[] =>
  Array.from({ length: count }, (_, i) => ({
    id: randomUUID(),
    type: 'BreachReported',
    occurredAt: new Date().toISOString(),
    data: breachData(n + i),
    metadata: metadataOf(),
  }));

/** The store's events table, same columns, keys and indexes, written by one plain statement. */
const RAW_TABLE = `
  CREATE TABLE IF NOT EXISTS raw_events (
    position bigserial PRIMARY KEY,
    id uuid NOT NULL UNIQUE,
    stream_id text NOT NULL,
    revision integer NOT NULL,
    type text NOT NULL,
    schema_version integer NOT NULL,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL,
    data jsonb NOT NULL,
    metadata jsonb NOT NULL,
    UNIQUE (stream_id, revision)
  )`;
const RAW_INSERT = `
  INSERT INTO raw_events (id, stream_id, revision, type, schema_version, occurred_at,
                          recorded_at, data, metadata)
  SELECT * FROM unnest($1::uuid[], $2::text[], $3::integer[], $4::text[], $5::integer[],
                       $6::timestamptz[], $7::timestamptz[], $8::jsonb[], $9::jsonb[])`;

const rawParams = (stream: string, events: NewEvent[]) => {
  const now = new Date().toISOString();
  return [
    events.map((e) => e.id),
    events.map(() => stream),
    events.map((_, i) => i),
    events.map((e) => e.type),
    events.map(() => 1),
    events.map((e) => e.occurredAt),
    events.map(() => now),
    events.map((e) => JSON.stringify(e.data)),
    events.map((e) => JSON.stringify(e.metadata)),
  ];
};

/** One run of a system: its load figures and the CPU it cost per event (µs). */
export interface MeasuredRun extends LoadResult {
  /** This process (the writers, the store's client code, pg's encoding and decoding). */
  nodeCpuPerEvent: number;
  /** Every process of the PostgreSQL server; null when the server is not on this machine. */
  postgresCpuPerEvent: number | null;
}

/** Something that appends: `once` writes one append of `batch` events and resolves to it. */
export interface AppendSystem {
  name: string;
  once(writer: number, i: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * `SqlEventStore.append` to a new stream with the expected revision checked. `storeOf` makes
 * the store (another build's, to measure two versions of it side by side in one run).
 */
export async function trucelineAppends(
  url: string,
  batch: number,
  writers: number,
  name = 'truceline',
  storeOf: (sql: SqlClient) => EventStore & { init(): Promise<void>; close(): Promise<void> } = (
    sql,
  ) => new SqlEventStore(sql),
  open: typeof openDatabase = openDatabase,
): Promise<AppendSystem> {
  const sql = await open({ databaseUrl: url, poolSize: writers });
  const store = storeOf(sql);
  await store.init();
  return {
    name,
    once: async (w, i) => {
      await store.append(`bench-${w}-${randomUUID()}`, eventsOf(batch, i), {
        expectedRevision: 'no-stream',
      });
      return batch;
    },
    close: async () => {
      await store.close();
      await sql.close();
    },
  };
}

/** The same rows by `INSERT … SELECT unnest(…)` into a table of the events table's shape. */
export async function rawAppends(url: string, batch: number, writers: number) {
  const pool = new Pool({ connectionString: url, max: writers });
  await pool.query(RAW_TABLE);
  return {
    name: 'raw',
    once: async (w: number, i: number) => {
      await pool.query(RAW_INSERT, rawParams(`bench-${w}-${randomUUID()}`, eventsOf(batch, i)));
      return batch;
    },
    close: () => pool.end(),
  };
}

/** Emmett's PostgreSQL store appending the same events to new streams (STREAM_DOES_NOT_EXIST). */
export async function emmettAppends(url: string, batch: number): Promise<AppendSystem> {
  const emmett = getPostgreSQLEventStore(url, { connectionOptions: { pooled: true } });
  return {
    name: 'emmett',
    once: async (w, i) => {
      const events = eventsOf(batch, i).map((e) => ({
        type: e.type,
        data: e.data as Record<string, unknown>,
        metadata: e.metadata,
      }));
      await emmett.appendToStream(`bench-${w}-${randomUUID()}`, events, {
        expectedStreamVersion: 'STREAM_DOES_NOT_EXIST',
      });
      return batch;
    },
    close: () => emmett.close(),
  };
}

/**
 * Runs the systems interleaved, run by run (a noisy neighbour hits each alike), after a warm-up
 * of each (schemas created, connections open, JIT warm). Each run records the CPU per event of
 * this process and, when `postmaster` is this machine's server, of PostgreSQL: under a shared
 * machine's load these move far less than the rates.
 */
export async function interleaved(
  systems: AppendSystem[],
  writers: number,
  settings: BenchSettings,
  postmaster: number | null,
  onRun?: (system: string, run: MeasuredRun) => void,
): Promise<Record<string, MeasuredRun[]>> {
  for (const system of systems) await drive(writers, 300, system.once);
  const runs: Record<string, MeasuredRun[]> = Object.fromEntries(systems.map((s) => [s.name, []]));
  for (let run = 0; run < settings.runs; run++) {
    for (const system of systems) {
      const server = await postgresCpu(postmaster);
      const node = process.cpuUsage();
      const result = await drive(writers, settings.durationMs, system.once);
      const used = process.cpuUsage(node);
      const serverUsed = server === null ? null : ((await postgresCpu(postmaster)) ?? 0) - server;
      const events = result.count ?? 1;
      const measured: MeasuredRun = {
        ...result,
        nodeCpuPerEvent: (used.user + used.system) / events,
        postgresCpuPerEvent: serverUsed === null ? null : serverUsed / events,
      };
      runs[system.name].push(measured);
      onRun?.(system.name, measured);
    }
  }
  return runs;
}

export interface AppendFigures {
  truceline: MeasuredRun;
  raw: MeasuredRun;
  emmett?: MeasuredRun;
}

/**
 * 8 writers, each append to a new stream with the expected revision checked ('no-stream'),
 * against the same rows inserted by `INSERT … SELECT unnest(…)`, and against Emmett's
 * PostgreSQL store appending the same events to new streams (STREAM_DOES_NOT_EXIST), all on
 * the database of `url`; each median run with its CPU per event (see interleaved).
 */
export async function appendOnPostgres(
  url: string,
  batch: number,
  writers: number,
  settings: BenchSettings,
): Promise<AppendFigures> {
  const systems: AppendSystem[] = [];
  try {
    systems.push(await trucelineAppends(url, batch, writers));
    systems.push(await rawAppends(url, batch, writers));
    systems.push(await emmettAppends(url, batch));
    const sql = await openDatabase({ databaseUrl: url, poolSize: 1 });
    const postmaster = await postmasterOf(sql).finally(() => sql.close());
    const runs = await interleaved(systems, writers, settings, postmaster);
    return {
      truceline: median(runs.truceline),
      raw: median(runs.raw),
      emmett: median(runs.emmett),
    };
  } finally {
    for (const system of systems.reverse()) await system.close();
  }
}

/** The same on the embedded store (PGlite, one connection) against the raw insert on it. */
export async function appendOnPglite(
  batch: number,
  writers: number,
  settings: BenchSettings,
): Promise<{ truceline: LoadResult; raw: LoadResult }> {
  const sql: SqlClient = await openDatabase({ inMemory: true });
  const store = new SqlEventStore(sql);
  await store.init();
  await sql.exec(RAW_TABLE);
  try {
    const truceline = async (w: number, i: number) => {
      await store.append(`bench-${w}-${randomUUID()}`, eventsOf(batch, i), {
        expectedRevision: 'no-stream',
      });
      return batch;
    };
    const raw = async (w: number, i: number) => {
      await sql.query(RAW_INSERT, rawParams(`bench-${w}-${randomUUID()}`, eventsOf(batch, i)));
      return batch;
    };
    await drive(writers, 300, truceline);
    await drive(writers, 300, raw);
    const t: LoadResult[] = [];
    const r: LoadResult[] = [];
    for (let run = 0; run < settings.runs; run++) {
      t.push(await drive(writers, settings.durationMs, truceline));
      r.push(await drive(writers, settings.durationMs, raw));
    }
    return { truceline: median(t), raw: median(r) };
  } finally {
    await store.close();
    await sql.close();
  }
}
