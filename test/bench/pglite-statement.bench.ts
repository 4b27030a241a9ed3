import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PGlite } from '@electric-sql/pglite';
import { NewEvent } from '@truceline/domain';
import {
  PGLITE_START_PARAMS,
  PgliteSqlClient,
  SqlClient,
  SqlEventStore,
  TransactionClient,
} from '@truceline/event-store';
import { eventsOf } from './append.bench';

/** Cost of one operation: wall time and CPU time of this process (PGlite runs in it), in ms. */
export interface StatementCost {
  wallMs: number;
  cpuMs: number;
}

export interface StatementCosts {
  operation: string;
  /** PGlite's own `query` / `transaction`, as the embedded store used them before. */
  pgliteQuery: StatementCost;
  /** Truceline's PgliteSqlClient. */
  client: StatementCost;
}

/**
 * The cost of single statements on the embedded store, one caller at a time: a trivial SELECT,
 * a parameterised one (a stream's events), an append of one event (the append function) and a
 * readAll page of 100 events. Each runs through PGlite's own `query` (as the store did before)
 * and through PgliteSqlClient, each on a database of its own in a data directory (as the API
 * opens it), interleaved run by run; medians of `runs`.
 */
export async function pgliteStatementCosts(
  runs: number,
  iterations: number,
): Promise<StatementCosts[]> {
  const dirs = await Promise.all([0, 1].map(() => mkdtemp(join(tmpdir(), 'truceline-stmt-'))));
  const old = await PgliteSqlClient.open(dirs[0]);
  await old.close(); // creates the data directory from the template, as the API does
  const db = new PGlite(dirs[0], { startParams: PGLITE_START_PARAMS });
  await db.waitReady;
  const clients: Record<'pgliteQuery' | 'client', SqlClient> = {
    pgliteQuery: pgliteQueryClient(db),
    client: await PgliteSqlClient.open(dirs[1]),
  };
  try {
    const fixtures = await Promise.all(
      Object.entries(clients).map(async ([name, sql]) => [name, await seed(sql)] as const),
    );
    const byClient = Object.fromEntries(fixtures) as Record<
      keyof typeof clients,
      Awaited<ReturnType<typeof seed>>
    >;
    const operations: [string, (kind: keyof typeof clients, i: number) => Promise<unknown>][] = [
      ['SELECT 1', (kind) => clients[kind].query('SELECT 1')],
      [
        'a stream of 10 events (SELECT … WHERE stream_id = $1)',
        (kind) => byClient[kind].store.readStream(byClient[kind].streams[0]),
      ],
      [
        'append of one event (truceline_append_columns)',
        (kind, i) =>
          byClient[kind].store.append(`cost-${randomUUID()}`, [eventOf(i)], {
            expectedRevision: 'no-stream',
          }),
      ],
      [
        'readAll page of 100 events',
        (kind, i) => byClient[kind].store.readAll({ after: (i * 7) % 900, limit: 100 }),
      ],
    ];
    const results: StatementCosts[] = [];
    for (const [operation, run] of operations) {
      const costs: Record<keyof typeof clients, StatementCost[]> = { pgliteQuery: [], client: [] };
      for (let r = 0; r < runs; r++) {
        for (const kind of ['pgliteQuery', 'client'] as const) {
          costs[kind].push(await measure(iterations, (i) => run(kind, i)));
        }
      }
      results.push({
        operation,
        pgliteQuery: medianCost(costs.pgliteQuery),
        client: medianCost(costs.client),
      });
    }
    return results;
  } finally {
    await clients.client.close();
    await db.close();
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  }
}

async function seed(sql: SqlClient): Promise<{ store: SqlEventStore; streams: string[] }> {
  const store = new SqlEventStore(sql);
  await store.init();
  const streams: string[] = [];
  for (let s = 0; s < 100; s++) {
    const stream = `seed-${randomUUID()}`;
    streams.push(stream);
    await store.append(
      stream,
      Array.from({ length: 10 }, (_, i) => eventOf(i)),
      { expectedRevision: 'no-stream' },
    );
  }
  return { store, streams };
}

const eventOf = (i: number): NewEvent => eventsOf(1, i)[0];

async function measure(
  iterations: number,
  once: (i: number) => Promise<unknown>,
): Promise<StatementCost> {
  for (let i = 0; i < Math.min(20, iterations); i++) await once(i);
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < iterations; i++) await once(i);
  const wallMs = (performance.now() - started) / iterations;
  const used = process.cpuUsage(cpu);
  return { wallMs, cpuMs: (used.user + used.system) / 1000 / iterations };
}

const medianCost = (costs: StatementCost[]): StatementCost =>
  [...costs].sort((a, b) => a.cpuMs - b.cpuMs)[Math.floor(costs.length / 2)];

/** A SqlClient over PGlite's own query and transaction: what the embedded store used before. */
function pgliteQueryClient(db: PGlite): SqlClient {
  return {
    engine: 'pglite',
    query: async <T>(text: string, params?: unknown[]) => ({
      rows: (await db.query<T>(text, params)).rows,
    }),
    exec: async (script: string) => {
      await db.exec(script);
    },
    transaction: <T>(fn: (tx: SqlClient) => Promise<T>) =>
      db.transaction(async (pgliteTx) => {
        const tx = new TransactionClient('pglite', {
          query: async <R>(text: string, params?: unknown[]) => ({
            rows: (await pgliteTx.query<R>(text, params)).rows,
          }),
          exec: async (script: string) => {
            await pgliteTx.exec(script);
          },
        });
        try {
          return await fn(tx);
        } finally {
          tx.end();
        }
      }),
    close: () => db.close(),
  };
}
