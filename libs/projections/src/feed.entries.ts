import { SqlClient } from '@truceline/event-store';

/** One entry of a partner's feed as written, but for its seq (taken when it is written). */
export interface FeedRow {
  id: string;
  type: string;
  /** Null for a notice about the whole log (LogCheckpoint). */
  incidentId: string | null;
  occurredAt: string;
  recordedAt: string;
  position: number;
  data: unknown;
  /** Drill data (SPEC §2): produced in exercise mode; a ministry must never take it for real. */
  exercise: boolean;
}

/**
 * Locks the feeds' applied position until the transaction ends and returns it: the projector
 * applying an event and the sealer publishing a checkpoint take turns on this row, so each
 * knows exactly where in every feed its entries land.
 *
 * It also turns JIT compilation and sequential scans off for the rest of the transaction
 * (`set_config(…, true)`, as SET LOCAL): a writer's statements are index probes and small
 * inserts. Before ANALYZE has run on partner_feed_items (a new or rebuilt table) the planner
 * takes each id looked up to match 0.5% of the rows, and beyond ~100k items the estimated cost
 * of a page's lookups crossed jit_above_cost: compiling took ~25 ms for a statement that runs in
 * 0.5. And the writer's statements are prepared, planned once for any parameters (QueryOptions):
 * on the empty, analyzed tables of a new database that plan scanned partner_feed_incidents and
 * partner_feed_runs, and would have gone on scanning them as they grew, until autovacuum's next
 * ANALYZE of each.
 */
export async function lockFeedPosition(tx: SqlClient, name: string): Promise<number> {
  // One statement: the row is made when missing, else locked as an UPDATE locks it (waiting for
  // a holder's commit and answering the position that one left).
  const { rows } = await tx.query<{ position: string | number }>(
    `INSERT INTO partner_feed_position AS p (name, position) VALUES ($1, 0)
     ON CONFLICT (name) DO UPDATE SET position = p.position
     RETURNING position, set_config('jit', 'off', true) AS jit,
               set_config('enable_seqscan', 'off', true) AS seqscan`,
    [name],
    { prepare: true },
  );
  return Number(rows[0].position);
}

/**
 * The partners' feeds are stored as runs of seqs (partner_feed_runs: the entry at
 * `first_seq + k - 1` is `items[k]`). These are the statements' parts that read them.
 */

/** The last seq of the partner the SQL expression `partner` names, null while its feed is empty. */
export const feedHeadSql = (partner: string): string =>
  `(SELECT first_seq + cardinality(items) - 1 FROM partner_feed_runs
     WHERE partner = ${partner} ORDER BY first_seq DESC LIMIT 1)`;

/**
 * A query of the runs (first_seq, items) holding a partner's entries after `after` up to
 * `after + limit`, in seq order (each argument an SQL expression): from the run holding
 * `after + 1` (one index probe) to the last starting within the range, however long the feed.
 */
export const feedRunsAfterSql = (partner: string, after: string, limit: string): string =>
  `SELECT first_seq, items FROM partner_feed_runs
    WHERE partner = ${partner}
      AND first_seq >= coalesce((SELECT max(first_seq) FROM partner_feed_runs
                                  WHERE partner = ${partner} AND first_seq <= ${after} + 1), 0)
      AND first_seq <= ${after} + ${limit}
    ORDER BY first_seq`;

/** A query of a partner's entries (seq, item) with seq > `after`, in seq order, at most `limit`. */
export const feedEntriesAfterSql = (partner: string, after: string, limit: string): string =>
  `SELECT r.first_seq + o.k - 1 AS seq, o.item
     FROM (${feedRunsAfterSql(partner, after, limit)}) r
     CROSS JOIN LATERAL unnest(r.items) WITH ORDINALITY AS o(item, k)
    WHERE r.first_seq + o.k - 1 > ${after}
    ORDER BY 1 LIMIT ${limit}`;

/**
 * Every entry of every feed as rows (partner, seq, item), for checks and reports that read whole
 * feeds (a subquery: `FROM (${feedEntriesSql()}) f`); `runs` names the table, schema-qualified
 * for a rebuild's.
 */
export const feedEntriesSql = (runs = 'partner_feed_runs'): string =>
  `SELECT r.partner, r.first_seq + o.k - 1 AS seq, o.item
     FROM ${runs} r CROSS JOIN LATERAL unnest(r.items) WITH ORDINALITY AS o(item, k)`;
