import { SqlClient } from '@truceline/event-store';
import { feedEntriesSql, PROJECTIONS } from '@truceline/projections';

/**
 * The feeds' runs hold the same entries however the batches that wrote them were cut (a live
 * projector's pages, a rebuild's): they are compared entry by entry.
 */
const AS_COMPARED: Record<string, string> = { partner_feed_runs: feedEntriesSql() };

/** Every row of every projection's tables, in a stable order: what "identical" compares. */
export async function readModelRows(sql: SqlClient): Promise<Record<string, string[]>> {
  const dump: Record<string, string[]> = {};
  for (const definition of PROJECTIONS)
    for (const table of definition.tables) {
      const { rows } = await sql.query<{ row: string }>(
        `SELECT to_jsonb(t)::text AS row FROM (${AS_COMPARED[table] ?? `TABLE ${table}`}) t ORDER BY 1`,
      );
      dump[table] = rows.map((r) => r.row);
    }
  return dump;
}

/**
 * What a replay must never add to: events in the log (reactions, DeadlineMissed, warnings,
 * tasks, deliveries), webhook deliveries queued or made, and the ids in partner feeds.
 */
export async function sideEffects(sql: SqlClient): Promise<Record<string, unknown>> {
  const count = async (statement: string) =>
    Number((await sql.query<{ n: string | number }>(statement)).rows[0].n);
  const { rows: types } = await sql.query<{ type: string; n: string | number }>(
    'SELECT type, count(*) AS n FROM events GROUP BY type ORDER BY type',
  );
  const { rows: feedIds } = await sql.query<{ ids: string }>(
    `SELECT md5(coalesce(string_agg(f.partner || ':' || i.event_id, ',' ORDER BY f.partner, f.seq), ''))
              AS ids
       FROM (${feedEntriesSql()}) f JOIN partner_feed_items i ON i.item = f.item`,
  );
  return {
    events: await count('SELECT count(*) AS n FROM events'),
    byType: Object.fromEntries(types.map((t) => [t.type, Number(t.n)])),
    webhookDeliveries: await count(
      "SELECT CASE WHEN to_regclass('webhook_outbox') IS NULL THEN 0 ELSE (SELECT count(*) FROM webhook_outbox) END AS n",
    ),
    feedIds: feedIds[0].ids,
  };
}
