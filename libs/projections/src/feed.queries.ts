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

/**
 * Every partner with entries (and a null row last), for a recursive CTE `partners`: a skip
 * through the primary key, one probe per partner.
 */
const PARTNERS_SQL = `(SELECT partner FROM partner_feed_runs ORDER BY partner LIMIT 1)
   UNION ALL
   SELECT (SELECT f.partner FROM partner_feed_runs f WHERE f.partner > p.partner
            ORDER BY f.partner LIMIT 1)
     FROM partners p WHERE p.partner IS NOT NULL`;

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
   * gives them, in the same two statements as `pages`. The partners with entries that `cursors`
   * lacks come back in `unknown` (their cursor is the relay's checkpoint, read once a
   * leadership). Reading the heads in a statement of their own before the pages cost every round
   * a round trip and its planning.
   */
  async pendingPages(
    cursors: ReadonlyMap<string, number>,
    limit: number,
  ): Promise<{ pages: Map<string, FeedEntry[]>; unknown: string[] }> {
    const capped = Math.min(Math.max(Math.trunc(limit) || 1, 1), MAX_FEED_PAGE);
    const { rows } = await this.sql.query<{
      partner: string;
      after: string | null;
      first_seq: string | null;
      items: string[] | null;
    }>(
      `WITH RECURSIVE partners AS (${PARTNERS_SQL}),
       cursors AS (SELECT * FROM unnest($1::text[], $2::bigint[]) AS c(partner, after))
       SELECT p.partner, c.after, r.first_seq, r.items
         FROM partners p
         LEFT JOIN cursors c ON c.partner = p.partner
         LEFT JOIN LATERAL (${feedRunsAfterSql('c.partner', 'c.after', '$3::int')}) r ON true
        WHERE p.partner IS NOT NULL
          AND (c.partner IS NULL OR r.first_seq + cardinality(r.items) - 1 > c.after)
        ORDER BY p.partner, r.first_seq`,
      [
        [...cursors.keys()].map((partner) => partner.toUpperCase()),
        [...cursors.values()].map((after) => Math.max(0, Math.trunc(after) || 0)),
        capped,
      ],
    );
    const unknown = rows.filter((row) => row.after === null).map((row) => row.partner);
    const runs = rows.filter(
      (row): row is { partner: string; after: string; first_seq: string; items: string[] } =>
        row.after !== null && row.first_seq !== null && row.items !== null,
    );
    return { pages: await this.entriesOfRuns(runs, capped), unknown };
  }

  /**
   * The runs holding partners' pages cut into (partner, seq, item), then each item read once: an
   * entry most partners share is read, printed and parsed once, not once per partner.
   */
  private async entriesOfRuns(
    runs: readonly { partner: string; after: string; first_seq: string; items: string[] }[],
    capped: number,
  ): Promise<Map<string, FeedEntry[]>> {
    const pages = new Map<string, FeedEntry[]>();
    const at: { partner: string; seq: number; item: string }[] = [];
    for (const run of runs) {
      const after = Number(run.after);
      const first = Number(run.first_seq);
      const from = Math.max(after + 1 - first, 0);
      const to = Math.min(after + capped + 1 - first, run.items.length);
      for (let k = from; k < to; k++)
        at.push({ partner: run.partner, seq: first + k, item: run.items[k] });
    }
    if (at.length === 0) return pages;
    const { rows: items } = await this.sql.query<
      Omit<StoredFeedRow, 'seq'> & {
        item: string;
        occurred_at: string;
        recorded_at: string;
        data: string;
      }
    >(`SELECT ${PAGE_COLUMNS} FROM partner_feed_items WHERE item = ANY($1::bigint[])`, [
      [...new Set(at.map((row) => row.item))],
    ]);
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
    for (const row of at) {
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
