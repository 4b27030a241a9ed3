import { SqlClient } from '@truceline/event-store';
import { FeedRow, feedEntriesAfterSql, feedHeadSql, feedRunsAfterSql } from './feed.entries';

/** One entry of a partner's feed: an event released to it (redacted) or a derived notice. */
export interface FeedEntry extends FeedRow {
  seq: number;
}

export const MAX_FEED_PAGE = 500;

/** An entry (partner_feed_items) at its seq in a partner's feed, as the driver returns it. */
interface StoredFeedRow {
  seq: string | number;
  event_id: string;
  type: string;
  incident_id: string | null;
  occurred_at: unknown;
  recorded_at: unknown;
  position: string | number;
  exercise: boolean;
  data: unknown;
}

/** The item's columns, `i`, of an entry. */
const COLUMNS =
  'i.event_id, i.type, i.incident_id, i.occurred_at, i.recorded_at, i.position, i.exercise, i.data';
const iso = (v: unknown): string =>
  v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString();

const toEntry = (row: StoredFeedRow): FeedEntry => ({
  seq: Number(row.seq),
  id: row.event_id,
  type: row.type,
  incidentId: row.incident_id,
  occurredAt: iso(row.occurred_at),
  recordedAt: iso(row.recorded_at),
  position: Number(row.position),
  exercise: row.exercise === true,
  data: typeof row.data === 'string' ? (JSON.parse(row.data) as unknown) : row.data,
});

/**
 * A timestamp as toISOString prints it, printed by the server (as the store's replay reads
 * them): parsing a Date per timestamp and printing it again was a tenth of the Kafka feed
 * relay's own CPU. Outside years 1 to 9999 its milliseconds since 1970, which `isoOf` prints.
 */
const isoText = (column: string): string =>
  `CASE WHEN ${column} >= '0001-01-01T00:00:00Z' AND ${column} < '10000-01-01T00:00:00Z'
     THEN to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
     ELSE floor(extract(epoch FROM ${column}) * 1000)::text END`;
const isoOf = (text: string): string =>
  text.endsWith('Z') ? text : new Date(Number(text)).toISOString();

/** An item's columns as `pages` reads them: timestamps as ISO text, data as the stored JSON text. */
const PAGE_COLUMNS = `item, event_id, type, incident_id, ${isoText('occurred_at')} AS occurred_at,
  ${isoText('recorded_at')} AS recorded_at, position, exercise, data::text AS data`;

/** An item as `PAGE_COLUMNS` (and the round's function) print it. */
interface StoredPageItem {
  item: string;
  event_id: string;
  type: string;
  incident_id: string | null;
  occurred_at: string;
  recorded_at: string;
  position: string | number;
  exercise: boolean;
  data: string;
}

/**
 * A row of `truceline_feed_round`: a partner's run (partner, after, first_seq, items), a partner
 * it was not given (partner alone), or one of the items the runs hold after their cursors (item
 * and its columns, the rest null).
 */
type FeedRoundRow = {
  partner: string | null;
  after: string | null;
  first_seq: string | null;
  items: string[] | null;
} & ({ item: null } | StoredPageItem);

/**
 * Every partner with entries (and a null row last), for a recursive CTE `partners`: a skip
 * through the primary key, one probe per partner.
 */
const PARTNERS_SQL = `(SELECT partner FROM partner_feed_runs ORDER BY partner LIMIT 1)
   UNION ALL
   SELECT (SELECT f.partner FROM partner_feed_runs f WHERE f.partner > p.partner
            ORDER BY f.partner LIMIT 1)
     FROM partners p WHERE p.partner IS NOT NULL`;

/**
 * The Kafka feed relay's round as one server-side function (a migration of the feeds creates
 * it): every partner with entries, found as `heads` finds them; for each partner in
 * `p_partners`, the runs holding its entries after its cursor in `p_afters` (up to `p_limit`
 * entries), as `pages` reads them; each partner with entries that `p_partners` lacks, alone
 * (its cursor is the relay's checkpoint, read once a leadership); then every item those runs
 * hold within their pages, once however many partners share it, its timestamps and data as
 * text as `pages` prints them. Partners at their head are left out.
 *
 * A function so that its plan is made once per connection: as two statements the relay's
 * round was planned on every call (a join, which a plan made for any parameters could turn
 * into a scan while the tables are small), which cost the server more than half again the
 * round's running time, in each of the several reads a Kafka transaction makes. In it every
 * lookup has an index, taken whatever the statistics say (enable_seqscan off), as in the
 * store's functions; the runs and the items come in one round trip.
 */
export const FEED_ROUND_FUNCTION = `
CREATE OR REPLACE FUNCTION truceline_feed_round(p_partners text[], p_afters bigint[], p_limit integer)
RETURNS TABLE (
  partner text,
  after bigint,
  first_seq bigint,
  items bigint[],
  item bigint,
  event_id uuid,
  type text,
  incident_id text,
  occurred_at text,
  recorded_at text,
  "position" bigint,
  exercise boolean,
  data text
) LANGUAGE plpgsql STABLE SET enable_seqscan = off SET plan_cache_mode = force_generic_plan
AS $round$
#variable_conflict use_column
BEGIN
  RETURN QUERY
    WITH RECURSIVE partners AS (${PARTNERS_SQL}),
    cursors AS (SELECT * FROM unnest(p_partners, p_afters) AS c(partner, after)),
    runs AS (
      SELECT p.partner, c.after, r.first_seq, r.items
        FROM partners p
        LEFT JOIN cursors c ON c.partner = p.partner
        LEFT JOIN LATERAL (${feedRunsAfterSql('c.partner', 'c.after', 'p_limit')}) r ON true
       WHERE p.partner IS NOT NULL
         AND (c.partner IS NULL OR r.first_seq + cardinality(r.items) - 1 > c.after)
    )
    SELECT r.partner, r.after, r.first_seq, r.items, NULL::bigint, NULL::uuid, NULL::text,
           NULL::text, NULL::text, NULL::text, NULL::bigint, NULL::boolean, NULL::text
      FROM runs r
    UNION ALL
    SELECT NULL::text, NULL::bigint, NULL::bigint, NULL::bigint[], i.item, i.event_id, i.type,
           i.incident_id, ${isoText('i.occurred_at')}, ${isoText('i.recorded_at')}, i.position,
           i.exercise, i.data::text
      FROM partner_feed_items i
     WHERE i.item = ANY (ARRAY(
             SELECT DISTINCT o.item
               FROM runs r CROSS JOIN LATERAL unnest(r.items) WITH ORDINALITY AS o(item, k)
              WHERE r.after IS NOT NULL
                AND r.first_seq + o.k - 1 > r.after
                AND r.first_seq + o.k - 1 <= r.after + p_limit))
    ORDER BY 1 NULLS LAST, 3;
END
$round$`;

/** Reads of the partner feeds; partner codes are stored upper-case. */
export class FeedQueries {
  constructor(private readonly sql: SqlClient) {}

  /** Entries with seq > after, in seq order; limit is kept within 1..500. */
  async page(partner: string, after: number, limit: number): Promise<FeedEntry[]> {
    const capped = Math.min(Math.max(Math.trunc(limit) || 1, 1), MAX_FEED_PAGE);
    const { rows } = await this.sql.query<StoredFeedRow>(
      `SELECT f.seq, ${COLUMNS}
         FROM (${feedEntriesAfterSql('$1::text', '$2::bigint', '$3::int')}) f
         JOIN partner_feed_items i ON i.item = f.item
        ORDER BY f.seq`,
      [partner.toUpperCase(), Math.max(0, Math.trunc(after) || 0), capped],
    );
    return rows.map(toEntry);
  }

  async entry(partner: string, eventId: string): Promise<FeedEntry | null> {
    if (!/^[0-9a-f-]{36}$/i.test(eventId)) return null;
    const { rows } = await this.sql.query<StoredFeedRow>(
      `SELECT i.seqs[array_position(i.partners, $1)] AS seq, ${COLUMNS}
         FROM partner_feed_items i WHERE i.event_id = $2 AND $1 = ANY(i.partners)`,
      [partner.toUpperCase(), eventId],
    );
    return rows[0] ? toEntry(rows[0]) : null;
  }

  /** The partner's last seq (0 when its feed is empty). */
  async head(partner: string): Promise<number> {
    const { rows } = await this.sql.query<{ head: string | number | null }>(
      `SELECT ${feedHeadSql('$1::text')} AS head`,
      [partner.toUpperCase()],
    );
    return Number(rows[0]?.head ?? 0);
  }

  /**
   * Every partner with entries and its last seq (the Kafka feed relay's work list, read every
   * round). The partners are found by skipping through the primary key, one probe each, and so
   * is each one's last seq: a GROUP BY would read the whole table every round, a cost that grows
   * with every entry ever written (hundreds of milliseconds at a few hundred thousand).
   */
  async heads(): Promise<Map<string, number>> {
    const { rows } = await this.sql.query<{ partner: string; head: string | number }>(
      `WITH RECURSIVE partners AS (${PARTNERS_SQL})
       SELECT partner, ${feedHeadSql('partners.partner')} AS head
         FROM partners WHERE partner IS NOT NULL`,
    );
    return new Map(rows.map((r) => [r.partner, Number(r.head)]));
  }

  /**
   * Several partners' pages in two statements whatever their number: for each [partner, after],
   * up to `limit` entries
   * with seq > after, in seq order. Partners without such entries are absent from the answer.
   * Entries whose data is the same JSON (an event released unredacted, a notice: the same for
   * every partner) share one parsed `data` object, which the caller must not change.
   */
  async pages(
    cursors: readonly (readonly [partner: string, after: number])[],
    limit: number,
  ): Promise<Map<string, FeedEntry[]>> {
    const pages = new Map<string, FeedEntry[]>();
    if (cursors.length === 0) return pages;
    const capped = Math.min(Math.max(Math.trunc(limit) || 1, 1), MAX_FEED_PAGE);
    const { rows: runs } = await this.sql.query<{
      partner: string;
      after: string;
      first_seq: string;
      items: string[];
    }>(
      `SELECT c.partner, c.after, r.first_seq, r.items
         FROM unnest($1::text[], $2::bigint[]) AS c(partner, after)
         CROSS JOIN LATERAL (${feedRunsAfterSql('c.partner', 'c.after', '$3::int')}) r
        ORDER BY c.partner, r.first_seq`,
      [
        cursors.map(([partner]) => partner.toUpperCase()),
        cursors.map(([, after]) => Math.max(0, Math.trunc(after) || 0)),
        capped,
      ],
    );
    return this.entriesOfRuns(runs, capped);
  }

  /**
   * The Kafka feed relay's round: every partner with entries, found as `heads` finds them, and
   * for each one `cursors` holds (partner → last seq sent), its entries after it as `pages`
   * gives them, in one call of `truceline_feed_round` (FEED_ROUND_FUNCTION), kept prepared. The
   * partners with entries that `cursors` lacks come back in `unknown` (their cursor is the
   * relay's checkpoint, read once a leadership). Reading the heads in a statement of their own
   * before the pages cost every round a round trip and its planning.
   */
  async pendingPages(
    cursors: ReadonlyMap<string, number>,
    limit: number,
  ): Promise<{ pages: Map<string, FeedEntry[]>; unknown: string[] }> {
    const capped = Math.min(Math.max(Math.trunc(limit) || 1, 1), MAX_FEED_PAGE);
    const { rows } = await this.sql.query<FeedRoundRow>(
      'SELECT * FROM truceline_feed_round($1::text[], $2::bigint[], $3::int)',
      [
        [...cursors.keys()].map((partner) => partner.toUpperCase()),
        [...cursors.values()].map((after) => Math.max(0, Math.trunc(after) || 0)),
        capped,
      ],
      { prepare: true },
    );
    const unknown: string[] = [];
    const runs: { partner: string; after: string; first_seq: string; items: string[] }[] = [];
    const items: StoredPageItem[] = [];
    for (const row of rows) {
      if (row.item !== null) items.push(row as StoredPageItem);
      else if (row.after === null) unknown.push(row.partner as string);
      else if (row.first_seq !== null && row.items !== null)
        runs.push(row as { partner: string; after: string; first_seq: string; items: string[] });
    }
    return { pages: this.cutRuns(runs, capped, items), unknown };
  }

  /**
   * The runs holding partners' pages cut into (partner, seq, item), then each item read once: an
   * entry most partners share is read, printed and parsed once, not once per partner.
   */
  private async entriesOfRuns(
    runs: readonly { partner: string; after: string; first_seq: string; items: string[] }[],
    capped: number,
  ): Promise<Map<string, FeedEntry[]>> {
    const wanted = new Set<string>();
    for (const row of cutOf(runs, capped)) wanted.add(row.item);
    if (wanted.size === 0) return new Map();
    const { rows: items } = await this.sql.query<StoredPageItem>(
      `SELECT ${PAGE_COLUMNS} FROM partner_feed_items WHERE item = ANY($1::bigint[])`,
      [[...wanted]],
    );
    return this.cutRuns(runs, capped, items);
  }

  /** The runs cut into each partner's entries, from their items (each parsed once). */
  private cutRuns(
    runs: readonly { partner: string; after: string; first_seq: string; items: string[] }[],
    capped: number,
    items: readonly StoredPageItem[],
  ): Map<string, FeedEntry[]> {
    const pages = new Map<string, FeedEntry[]>();
    const parsed = new Map<string, unknown>();
    const byItem = new Map<string, Omit<FeedEntry, 'seq'>>();
    for (const row of items) {
      let data = parsed.get(row.data);
      if (data === undefined) parsed.set(row.data, (data = JSON.parse(row.data) as unknown));
      byItem.set(String(row.item), {
        id: row.event_id,
        type: row.type,
        incidentId: row.incident_id,
        occurredAt: isoOf(row.occurred_at),
        recordedAt: isoOf(row.recorded_at),
        position: Number(row.position),
        exercise: row.exercise === true,
        data,
      });
    }
    for (const row of cutOf(runs, capped)) {
      const item = byItem.get(String(row.item));
      if (!item) throw new Error(`feed item ${row.item} of ${row.partner} is missing`);
      const entry: FeedEntry = { seq: row.seq, ...item };
      const page = pages.get(row.partner);
      if (page) page.push(entry);
      else pages.set(row.partner, [entry]);
    }
    return pages;
  }
}

/** Runs (in seq order per partner) cut into (partner, seq, item) after each one's cursor. */
function cutOf(
  runs: readonly { partner: string; after: string; first_seq: string; items: string[] }[],
  capped: number,
): { partner: string; seq: number; item: string }[] {
  const at: { partner: string; seq: number; item: string }[] = [];
  for (const run of runs) {
    const after = Number(run.after);
    const first = Number(run.first_seq);
    const from = Math.max(after + 1 - first, 0);
    const to = Math.min(after + capped + 1 - first, run.items.length);
    for (let k = from; k < to; k++)
      at.push({ partner: run.partner, seq: first + k, item: run.items[k] });
  }
  return at;
}
