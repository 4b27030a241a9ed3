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
 */
export async function lockFeedPosition(tx: SqlClient, name: string): Promise<number> {
  // One statement: the row is made when missing, else locked as an UPDATE locks it (waiting for
  // a holder's commit and answering the position that one left).
  const { rows } = await tx.query<{ position: string | number }>(
    `INSERT INTO partner_feed_position AS p (name, position) VALUES ($1, 0)
     ON CONFLICT (name) DO UPDATE SET position = p.position
     RETURNING position`,
    [name],
  );
  return Number(rows[0].position);
}
