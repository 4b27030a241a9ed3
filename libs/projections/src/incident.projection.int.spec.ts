import { incidentIdOf } from '@truceline/domain';
import { SqlClient } from '@truceline/event-store';
import {
  createTestDatabase,
  insertGeneratedHistory,
  openPolicyStore,
  planForAnyParameters,
  recordingPrepared,
} from '@truceline/testing';
import { INCIDENTS } from './incident.projection';
import { migrateProjection } from './projection';

const rowsOf = async (sql: SqlClient) =>
  (
    await sql.query<{ row: string }>(
      'SELECT to_jsonb(t)::text AS row FROM incident_view t ORDER BY incident_id',
    )
  ).rows.map((r) => r.row);

/**
 * A new database as a first start leaves it: the view made, analyzed while empty (autovacuum
 * may do that), then three incidents' history in the log. `test` gets the open store.
 */
async function onNewAnalyzedView(
  test: (opened: Awaited<ReturnType<typeof openPolicyStore>>) => Promise<void>,
): Promise<void> {
  const database = await createTestDatabase();
  const opened = await openPolicyStore({ databaseUrl: database.url });
  try {
    await migrateProjection(opened.sql, INCIDENTS);
    await opened.sql.query('ANALYZE incident_view');
    await insertGeneratedHistory(opened.sql, 3);
    await test(opened);
  } finally {
    await opened.close();
    await database.drop();
  }
}

/** `sql`, adding the text of every statement sent through it to `texts`. */
const recordingTexts = (sql: SqlClient, texts: string[]): SqlClient => ({
  engine: sql.engine,
  query: (text, params, options) => {
    texts.push(text);
    return sql.query(text, params, options);
  },
  exec: (script) => sql.exec(script),
  transaction: (fn) => sql.transaction((tx) => fn(recordingTexts(tx, texts))),
  close: () => sql.close(),
});

/** The plan PostgreSQL makes for any parameters of each statement text in `prepared`. */
const plansOf = (sql: SqlClient, prepared: Set<string>): Promise<string[]> =>
  sql.transaction(async (tx) => {
    const planned: string[] = [];
    for (const text of prepared) planned.push(await planForAnyParameters(tx, text));
    return planned;
  });

/**
 * A generated history's incident events, the view's rows as one projection applying them all
 * leaves them, and then the view emptied, for another way of applying them to give those rows.
 */
async function wholeLogRows(
  sql: SqlClient,
  store: Awaited<ReturnType<typeof openPolicyStore>>['store'],
  policies: Awaited<ReturnType<typeof openPolicyStore>>['policies'],
) {
  await insertGeneratedHistory(sql, 3);
  const events = (await store.readAll()).filter((e) => incidentIdOf(e.streamId));
  await migrateProjection(sql, INCIDENTS);
  await INCIDENTS.create(sql, policies).applyBatch(events);
  const expected = await rowsOf(sql);
  await sql.exec('DELETE FROM incident_view');
  return { events, expected };
}

describe('IncidentProjection', () => {
  it('folds again from the table a row another writer changed since this one wrote it', async () => {
    const { sql, store, policies, close } = await openPolicyStore();
    try {
      // The rows as one projection applying the whole log leaves them, then an empty view.
      const { events, expected } = await wholeLogRows(sql, store, policies);

      // Two writers (two processes running the projection): each row is written by one, then
      // moved on by the other, then by the first again, which must fold the last third onto
      // the table's row, not onto its own last write as if the table still held that.
      const one = INCIDENTS.create(sql, policies);
      const other = INCIDENTS.create(sql, policies);
      const thirds = [0, 1, 2, 3].map((i) => Math.round((events.length * i) / 3));
      await one.applyBatch(events.slice(0, thirds[1]));
      await other.applyBatch(events.slice(0, thirds[2]));
      await one.applyBatch(events.slice(thirds[2], thirds[3]));

      expect(await rowsOf(sql)).toEqual(expected);
    } finally {
      await close();
    }
  });

  it('folds on from the rows it wrote when an incident goes on in a later page', async () => {
    const { sql, store, policies, close } = await openPolicyStore();
    try {
      const { events, expected } = await wholeLogRows(sql, store, policies);

      // Pages of two events: every incident's later events are folded onto what the
      // projection remembers having written, without reading its row.
      const texts: string[] = [];
      const sut = INCIDENTS.create(recordingTexts(sql, texts), policies);
      for (let i = 0; i < events.length; i += 2) await sut.applyBatch(events.slice(i, i + 2));

      expect(texts.filter((text) => /SELECT [^(]*FROM incident_view/.test(text))).toEqual([]);
      expect(texts.length).toBeGreaterThan(events.length / 2 - 1);
      expect(await rowsOf(sql)).toEqual(expected);
    } finally {
      await close();
    }
  });

  it('writes a page of new incidents by a prepared insert, planned once along indexes even on a new table', () =>
    onNewAnalyzedView(async ({ sql, store, policies }) => {
      const prepared = new Set<string>();
      await INCIDENTS.create(recordingPrepared(sql, prepared), policies).applyBatch(
        await store.readAll(),
      );

      const plans = await plansOf(sql, prepared);
      expect(plans).toHaveLength(1);
      expect(plans[0]).toMatch(/Insert on incident_view/);
      expect(plans[0]).not.toMatch(/Seq Scan/);
      expect(await rowsOf(sql)).toHaveLength(3);
    }));

  it('writes on the locked path by a prepared statement, planned once along indexes even on a new table', () =>
    onNewAnalyzedView(async ({ sql, store, policies }) => {
      const events = (await store.readAll()).filter((e) => incidentIdOf(e.streamId));
      // The reports by one writer, the rest of each incident by another (a rebuild, another
      // process): the second has written none of these rows, so it reads and locks them.
      await INCIDENTS.create(sql, policies).applyBatch(events.filter((e) => e.revision === 0));
      const prepared = new Set<string>();
      await INCIDENTS.create(recordingPrepared(sql, prepared), policies).applyBatch(
        events.filter((e) => e.revision > 0),
      );

      const plans = await plansOf(sql, prepared);
      expect(plans).toHaveLength(1);
      expect(plans[0]).toMatch(/Insert on incident_view/);
      expect(plans[0]).not.toMatch(/Seq Scan/);
      // The same rows as one projection applying the whole log leaves.
      const twoWriters = await rowsOf(sql);
      await sql.exec('DELETE FROM incident_view');
      await INCIDENTS.create(sql, policies).applyBatch(events);
      expect(twoWriters).toEqual(await rowsOf(sql));
    }));
});
