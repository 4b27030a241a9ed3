import { randomUUID } from 'node:crypto';
import { incidentStreamId } from '@truceline/domain';
import { SqlClient, SqlEventStore, Subscription } from '@truceline/event-store';
import {
  createTestDatabase,
  incidentHistory,
  insertGeneratedHistory,
  openPolicyStore,
  TestDatabase,
} from '@truceline/testing';
import { feedEntriesSql } from './feed.entries';
import { PolicyRegistry } from './policy.registry';
import { checkpointOf, migrateProjection, ProjectionDefinition } from './projection';
import { FEEDS } from './feed.projection';
import { INCIDENTS } from './incident.projection';
import { PROJECTIONS } from './projections';
import { buildInto, rebuildProjection } from './rebuild';

async function generate(store: SqlEventStore, incidents: number, offset = 0): Promise<void> {
  for (let n = offset; n < offset + incidents; n++)
    await store.append(incidentStreamId(randomUUID()), incidentHistory(n), {
      expectedRevision: 'no-stream',
    });
}

/**
 * Every row of a projection's tables, in a stable order: what "identical" compares. The feeds'
 * runs hold the same entries however the batches that wrote them were cut (the live runner's,
 * the rebuild's pages): they are compared entry by entry.
 */
async function rows(sql: SqlClient, definition: ProjectionDefinition, schema = 'public') {
  const dump: Record<string, string[]> = {};
  for (const table of definition.tables) {
    const qualified = `"${schema}"."${table}"`;
    const source = table === 'partner_feed_runs' ? feedEntriesSql(qualified) : `TABLE ${qualified}`;
    const { rows: found } = await sql.query<{ row: string }>(
      `SELECT to_jsonb(t)::text AS row FROM (${source}) t ORDER BY 1`,
    );
    dump[table] = found.map((r) => r.row);
  }
  return dump;
}

/** The live runners, as the runtime starts them: a batch subscription per projection. */
async function runLive(store: SqlEventStore, sql: SqlClient, policies: PolicyRegistry) {
  const subscriptions: Subscription[] = [];
  for (const definition of PROJECTIONS) {
    await migrateProjection(sql, definition);
    const projection = definition.create(sql, policies);
    subscriptions.push(
      await store.subscribe(
        { batch: (events) => projection.applyBatch(events) },
        {
          subscriberId: checkpointOf(definition),
          pollIntervalMs: 20,
          batchSize: 500,
          onError: () => undefined,
        },
      ),
    );
  }
  return {
    caughtUp: async () => {
      const head = await store.headPosition();
      await Promise.all(subscriptions.map((s) => s.waitFor(head, 20_000)));
    },
    stop: () => Promise.all(subscriptions.map((s) => s.stop())),
  };
}

describe('rebuilding the projections on PostgreSQL while the live runners apply', () => {
  let database: TestDatabase;
  let sql: SqlClient;
  let store: SqlEventStore;
  let live: Awaited<ReturnType<typeof runLive>>;

  // With the server's URL the incident view is loaded in parts, each in a worker thread.
  const rebuildAll = async (options: { batchSize?: number; parts?: number } = {}) => {
    for (const definition of PROJECTIONS)
      await rebuildProjection(sql, new PolicyRegistry(store), definition, {
        ...options,
        databaseUrl: database.url,
      });
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    const opened = await openPolicyStore({ databaseUrl: database.url });
    ({ sql, store } = opened);
    await insertGeneratedHistory(sql, 150);
    live = await runLive(store, sql, opened.policies);
    await live.caughtUp();
  }, 60_000);
  afterAll(async () => {
    await live?.stop();
    await store?.close();
    await sql?.close();
    await database?.drop();
  });

  it('loses no update from appends arriving during the rebuild and swap', async () => {
    const headBefore = await store.headPosition();
    let writing = true;
    const writer = (async () => {
      let n = 100_000;
      // Commands keep arriving: an incident's ten events every 20 ms.
      while (writing) {
        await generate(store, 1, n++);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    // Small pages: several of them run while the log grows, and the swap catches up under its lock.
    await rebuildAll({ batchSize: 200, parts: 3 });
    writing = false;
    await writer;
    await live.caughtUp();
    const head = await store.headPosition();
    expect(head).toBeGreaterThan(headBefore);

    // A fresh build of the whole log in this thread, as the reference the swapped-in tables
    // must equal.
    for (const definition of PROJECTIONS) {
      const schema = `reference_${definition.name}`;
      await buildInto(sql, new PolicyRegistry(store), definition, schema, head);
      expect(await rows(sql, definition)).toEqual(await rows(sql, definition, schema));
      await sql.exec(`DROP SCHEMA ${schema} CASCADE`);
    }
  }, 60_000);

  it('keeps the index the feeds look their entries up by while it loads them', async () => {
    const schema = 'spec_feeds_load';
    const indexes: Promise<string[]>[] = [];
    const indexesNow = async () =>
      (
        await sql.query<{ name: string }>(
          `SELECT indexname AS name FROM pg_indexes
            WHERE schemaname = $1 AND tablename = 'partner_feed_items'`,
          [schema],
        )
      ).rows.map((row) => row.name);

    // Small pages: the indexes are read after each one, while the next ones load.
    await buildInto(sql, new PolicyRegistry(store), FEEDS, schema, await store.headPosition(), {
      batchSize: 50,
      onProgress: () => void indexes.push(indexesNow()),
    });
    const during = await Promise.all(indexes);
    await sql.exec(`DROP SCHEMA ${schema} CASCADE`);

    expect(during.length).toBeGreaterThan(10);
    for (const names of during) expect(names).toContain('partner_feed_items_event');
  });

  it('after a history of 10k events, gives read models identical, row for row, to the live ones', async () => {
    await insertGeneratedHistory(sql, 900);
    await live.caughtUp();
    expect(await store.headPosition()).toBeGreaterThanOrEqual(10_000);
    const before = await Promise.all(PROJECTIONS.map((definition) => rows(sql, definition)));

    await rebuildAll();

    expect(await Promise.all(PROJECTIONS.map((definition) => rows(sql, definition)))).toEqual(
      before,
    );
    expect(before.every((dump) => Object.values(dump)[0].length > 0)).toBe(true);
    // The tables went live analyzed (autovacuum's own analyses are not last_analyze): the live
    // runners' lookups by a page's keys take the indexes from their first page on.
    const { rows: unanalyzed } = await sql.query<{ table: string }>(
      `SELECT relname AS table FROM pg_stat_user_tables
        WHERE schemaname = 'public' AND relname = ANY($1::text[]) AND last_analyze IS NULL`,
      [PROJECTIONS.flatMap((definition) => [...definition.tables])],
    );
    expect(unanalyzed).toEqual([]);
    const { rows: leftovers } = await sql.query(
      "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'truceline_rebuild_%'",
    );
    expect(leftovers).toEqual([]);
  }, 60_000);
});

describe('a rebuild whose part fails', () => {
  it('drops what it built, leaves the live tables as they were, and stops every part', async () => {
    const database = await createTestDatabase();
    const { sql, store, policies, close } = await openPolicyStore({ databaseUrl: database.url });
    try {
      await insertGeneratedHistory(sql, 100);
      const live = await runLive(store, sql, policies);
      await live.caughtUp();
      await live.stop();
      const before = await rows(sql, INCIDENTS);
      // A fact of a schema newer than this code, late in the log: the part folding it throws.
      await sql.query(
        `INSERT INTO events (position, id, stream_id, revision, type, schema_version, occurred_at,
                             recorded_at, data, metadata)
         SELECT max(position) + 1, $1, $2, 0, 'WarningIssued', 99, now(), now(), '{}',
                '{"policyVersion":1}' FROM events`,
        [randomUUID(), incidentStreamId(randomUUID())],
      );

      await expect(
        rebuildProjection(sql, new PolicyRegistry(store), INCIDENTS, {
          databaseUrl: database.url,
          parts: 2,
          batchSize: 100,
        }),
      ).rejects.toThrow(/newer than this code/);

      expect(await rows(sql, INCIDENTS)).toEqual(before);
      const { rows: leftovers } = await sql.query(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'truceline_rebuild_%'",
      );
      expect(leftovers).toEqual([]);
    } finally {
      await close();
      await database.drop();
    }
  }, 60_000);
});

describe('rebuilding on the embedded store (PGlite)', () => {
  let sql: SqlClient;
  let store: SqlEventStore;

  beforeAll(async () => {
    const opened = await openPolicyStore();
    ({ sql, store } = opened);
    await insertGeneratedHistory(sql, 200);
    const live = await runLive(store, sql, opened.policies);
    await live.caughtUp();
    await live.stop();
  }, 60_000);
  afterAll(async () => {
    await store?.close();
    await sql?.close();
  });

  it('gives read models identical, row for row, to the live ones', async () => {
    const before = await Promise.all(PROJECTIONS.map((definition) => rows(sql, definition)));

    for (const definition of PROJECTIONS)
      await rebuildProjection(sql, new PolicyRegistry(store), definition, { batchSize: 500 });

    expect(await Promise.all(PROJECTIONS.map((definition) => rows(sql, definition)))).toEqual(
      before,
    );
  }, 60_000);
});
