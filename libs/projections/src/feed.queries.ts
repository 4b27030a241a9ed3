import { SqlClient } from '@truceline/event-store';
import type { FeedRow } from './feed.entries';

/** One entry of a partner's feed: an event released to it (redacted) or a derived notice. */
export interface FeedEntry extends FeedRow {
  seq: number;
}

export const MAX_FEED_PAGE = 500;

/** A row of partner_feed as the driver returns it. */
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

const COLUMNS =
  'seq, event_id, type, incident_id, occurred_at, recorded_at, position, exercise, data';
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

/** COLUMNS as `pages` reads them: timestamps as ISO text, data as the stored JSON text. */
const PAGE_COLUMNS = `seq, event_id, type, incident_id, ${isoText('occurred_at')} AS occurred_at,
  ${isoText('recorded_at')} AS recorded_at, position, exercise, data::text AS data`;

/** Reads of the partner feeds; partner codes are stored upper-case. */
export class FeedQueries {
  constructor(private readonly sql: SqlClient) {}

  /** Entries with seq > after, in seq order; limit is kept within 1..500. */
  async page(partner: string, after: number, limit: number): Promise<FeedEntry[]> {
    const capped = Math.min(Math.max(Math.trunc(limit) || 1, 1), MAX_FEED_PAGE);
    const { rows } = await this.sql.query<StoredFeedRow>(
      `SELECT ${COLUMNS} FROM partner_feed WHERE partner = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      [partner.toUpperCase(), Math.max(0, Math.trunc(after) || 0), capped],
    );
    return rows.map(toEntry);
  }

  async entry(partner: string, eventId: string): Promise<FeedEntry | null> {
    if (!/^[0-9a-f-]{36}$/i.test(eventId)) return null;
    const { rows } = await this.sql.query<StoredFeedRow>(
      `SELECT ${COLUMNS} FROM partner_feed WHERE partner = $1 AND event_id = $2`,
      [partner.toUpperCase(), eventId],
    );
    return rows[0] ? toEntry(rows[0]) : null;
  }

  /** The partner's last seq (0 when its feed is empty). */
  async head(partner: string): Promise<number> {
    const { rows } = await this.sql.query<{ head: string | number | null }>(
      'SELECT MAX(seq) AS head FROM partner_feed WHERE partner = $1',
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
      `WITH RECURSIVE partners AS (
         (SELECT partner FROM partner_feed ORDER BY partner LIMIT 1)
         UNION ALL
         SELECT (SELECT f.partner FROM partner_feed f WHERE f.partner > p.partner
                  ORDER BY f.partner LIMIT 1)
           FROM partners p WHERE p.partner IS NOT NULL
       )
       SELECT partner,
              (SELECT max(seq) FROM partner_feed f WHERE f.partner = partners.partner) AS head
         FROM partners WHERE partner IS NOT NULL`,
    );
    return new Map(rows.map((r) => [r.partner, Number(r.head)]));
  }

  /**
   * Several partners' pages in one statement: for each [partner, after], up to `limit` entries
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
    const { rows } = await this.sql.query<
      StoredFeedRow & {
        feed_partner: string;
        occurred_at: string;
        recorded_at: string;
        data: string;
      }
    >(
      `SELECT c.partner AS feed_partner, f.*
         FROM unnest($1::text[], $2::bigint[]) AS c(partner, after)
         CROSS JOIN LATERAL (
           SELECT ${PAGE_COLUMNS} FROM partner_feed
            WHERE partner = c.partner AND seq > c.after ORDER BY seq LIMIT $3
         ) f
        ORDER BY c.partner, f.seq`,
      [
        cursors.map(([partner]) => partner.toUpperCase()),
        cursors.map(([, after]) => Math.max(0, Math.trunc(after) || 0)),
        capped,
      ],
    );
    const parsed = new Map<string, unknown>();
    for (const row of rows) {
      let data = parsed.get(row.data);
      if (data === undefined) parsed.set(row.data, (data = JSON.parse(row.data) as unknown));
      const entry: FeedEntry = {
        seq: Number(row.seq),
        id: row.event_id,
        type: row.type,
        incidentId: row.incident_id,
        occurredAt: isoOf(row.occurred_at),
        recordedAt: isoOf(row.recorded_at),
        position: Number(row.position),
        exercise: row.exercise === true,
        data,
      };
      const page = pages.get(row.feed_partner);
      if (page) page.push(entry);
      else pages.set(row.feed_partner, [entry]);
    }
    return pages;
  }
}
