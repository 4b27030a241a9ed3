import { randomUUID } from 'node:crypto';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { NewEvent } from '@truceline/domain';
import { openDatabase, SqlClient, SqlEventStore } from '@truceline/event-store';
import { Pool } from 'pg';
import { drive, LoadResult, median } from './load';

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

export interface AppendFigures {
  truceline: LoadResult;
  raw: LoadResult;
  emmett?: LoadResult;
}

/**
 * 8 writers, each append to a new stream with the expected revision checked ('no-stream'),
 * against the same rows inserted by `INSERT … SELECT unnest(…)`, and against Emmett's
 * PostgreSQL store appending the same events to new streams (STREAM_DOES_NOT_EXIST).
 */
export async function appendOnPostgres(
  url: string,
  batch: number,
  writers: number,
  settings: BenchSettings,
): Promise<AppendFigures> {
  const sql = await openDatabase({ databaseUrl: url, poolSize: writers });
  const store = new SqlEventStore(sql);
  await store.init();
  const pool = new Pool({ connectionString: url, max: writers });
  await pool.query(RAW_TABLE);
  const emmett = getPostgreSQLEventStore(url, { connectionOptions: { pooled: true } });
  try {
    const once = {
      truceline: async (w: number, i: number) => {
        const events = eventsOf(batch, i);
        await store.append(`bench-${w}-${randomUUID()}`, events, { expectedRevision: 'no-stream' });
        return batch;
      },
      raw: async (w: number, i: number) => {
        const events = eventsOf(batch, i);
        await pool.query(RAW_INSERT, rawParams(`bench-${w}-${randomUUID()}`, events));
        return batch;
      },
      emmett: async (w: number, i: number) => {
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
    };
    // Warm-up: schemas created, connections open, JIT warm.
    for (const fn of Object.values(once)) await drive(writers, 300, fn);
    // Interleaved, so a noisy neighbour hits every system alike.
    const results: Record<keyof typeof once, LoadResult[]> = { truceline: [], raw: [], emmett: [] };
    for (let run = 0; run < settings.runs; run++) {
      for (const [name, fn] of Object.entries(once) as [keyof typeof once, typeof once.raw][]) {
        results[name].push(await drive(writers, settings.durationMs, fn));
      }
    }
    return {
      truceline: median(results.truceline),
      raw: median(results.raw),
      emmett: median(results.emmett),
    };
  } finally {
    await emmett.close();
    await pool.end();
    await store.close();
    await sql.close();
  }
}

/** The same on the embedded store (PGlite, one connection) against the raw insert on it. */
export async function appendOnPglite(
  batch: number,
  writers: number,
  settings: BenchSettings,
): Promise<AppendFigures> {
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
