import { LOG_CHECKPOINT } from '@truceline/domain';
import { deterministicId, SqlClient, TableDefinition } from '@truceline/event-store';
import { FeedRow } from './feed.entries';

/**
 * Where each LogCheckpoint notice was placed in the partner feeds. The sealer publishes a
 * checkpoint when it signs it, between whichever log events the feeds have applied by then; that
 * moment is not in the log, so it is recorded here, beside the notice itself. A feed rebuilt
 * from the log puts each notice back right after the event at `after_position`, so the rebuilt
 * feeds are the live ones, seq for seq. This table is not a projection table (it is not among
 * the feeds' `tables`): a rebuild reads it and never empties it.
 */
export const LOG_NOTICES: TableDefinition = {
  name: 'partner_feed_log_notices',
  columns: {
    tree_size: 'bigint PRIMARY KEY',
    id: 'uuid NOT NULL UNIQUE',
    // The position the feeds had applied when the notice went in (0: none yet).
    after_position: 'bigint NOT NULL',
    // The position of the last event the checkpoint covers.
    position: 'bigint NOT NULL',
    signed_at: 'timestamptz NOT NULL',
    exercise: 'boolean NOT NULL',
    // The partners whose feeds got it: the partners the policy in force then knew.
    partners: 'jsonb NOT NULL',
    data: 'jsonb NOT NULL',
  },
};

/** The payload of a LogCheckpoint notice: what `GET /v1/log/checkpoint` serves, bar the key. */
export interface LogCheckpointData {
  /** The C2SP signed note, checkable with the log's pinned verifier key. */
  checkpoint: string;
  origin: string;
  treeSize: number;
  /** Base64, as in the note. */
  rootHash: string;
}

export interface LogNotice {
  id: string;
  afterPosition: number;
  position: number;
  signedAt: string;
  exercise: boolean;
  partners: string[];
  data: LogCheckpointData;
}

/** The id of the notice of the checkpoint of a tree size: one per checkpoint, in every feed. */
export const logCheckpointNoticeId = (origin: string, treeSize: number): string =>
  deterministicId(origin, LOG_CHECKPOINT, String(treeSize));

export function feedRowOf(notice: LogNotice): FeedRow {
  return {
    id: notice.id,
    type: LOG_CHECKPOINT,
    incidentId: null,
    occurredAt: notice.signedAt,
    recordedAt: notice.signedAt,
    position: notice.position,
    data: notice.data,
    exercise: notice.exercise,
  };
}

/** Records a notice's placement; false when this checkpoint's notice was recorded before. */
export async function recordLogNotice(tx: SqlClient, notice: LogNotice): Promise<boolean> {
  const { rows } = await tx.query<{ id: string }>(
    `INSERT INTO partner_feed_log_notices
       (tree_size, id, after_position, position, signed_at, exercise, partners, data)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (tree_size) DO NOTHING
     RETURNING id`,
    [
      notice.data.treeSize,
      notice.id,
      notice.afterPosition,
      notice.position,
      notice.signedAt,
      notice.exercise,
      JSON.stringify(notice.partners),
      JSON.stringify(notice.data),
    ],
  );
  return rows.length > 0;
}

/** A row of partner_feed_log_notices as `noticeOf` reads it. */
export interface NoticeRow {
  id: string;
  after_position: string | number;
  position: string | number;
  signed_at: Date | string;
  exercise: boolean;
  partners: unknown;
  data: unknown;
  tree_size: string | number;
}

const json = (value: unknown): unknown =>
  typeof value === 'string' ? (JSON.parse(value) as unknown) : value;

/**
 * The notices placed after a position in [`from`, `to`] (SQL expressions), as rows for
 * `noticeOf`: in no set order (the caller sorts them with `byPlacement`), so that the query can
 * be one part of a UNION ALL.
 */
export const noticesPlacedSql = (from: string, to: string): string =>
  `SELECT id, after_position, position, signed_at, exercise, partners, data, tree_size
     FROM partner_feed_log_notices
    WHERE after_position >= ${from} AND after_position <= ${to}`;

/** Feed order of notices: by the position they were placed after, then by tree size. */
export const byPlacement = (a: NoticeRow, b: NoticeRow): number =>
  Number(a.after_position) - Number(b.after_position) || Number(a.tree_size) - Number(b.tree_size);

export const noticeOf = (row: NoticeRow): LogNotice => ({
  id: row.id,
  afterPosition: Number(row.after_position),
  position: Number(row.position),
  signedAt: new Date(row.signed_at).toISOString(),
  exercise: row.exercise === true,
  partners: json(row.partners) as string[],
  data: json(row.data) as LogCheckpointData,
});
