import { SqlClient } from './sql/sql-client';

export interface CheckpointWriterOptions {
  /** How long a checkpoint may wait to go with the others (default 250 ms). */
  intervalMs?: number;
  now?: () => Date;
  onError?: (error: unknown) => void;
}

/**
 * The statement storing checkpoints (parameters: checkpointParameters), one text for every
 * writer of the table. `where` (SQL) lets a writer store them only while a condition holds, in
 * the same statement: the relays' publisher stores its checkpoints only under its lease.
 */
export const storeCheckpointsSql = (where = 'true'): string =>
  `INSERT INTO checkpoints (subscriber_id, position, updated_at)
   SELECT id, position, $3::timestamptz FROM unnest($1::text[], $2::bigint[]) AS c(id, position)
    WHERE ${where}
   ON CONFLICT (subscriber_id)
   DO UPDATE SET position = EXCLUDED.position, updated_at = EXCLUDED.updated_at`;

/** The first three parameters of storeCheckpointsSql: names, positions, the time written. */
export const checkpointParameters = (
  positions: ReadonlyMap<string, number>,
  now: Date,
): unknown[] => [[...positions.keys()], [...positions.values()], now.toISOString()];

/** Where subscriptions record how far they got; written later, together. */
export interface CheckpointRecorder {
  /** Records a subscriber's position, to be stored with the next write. */
  record(subscriberId: string, position: number): void;
  /** The last position stored for the subscriber by this writer, if any. */
  stored(subscriberId: string): number | undefined;
  /** Stores every position recorded so far; rejects when that failed. */
  flush(): Promise<void>;
}

/**
 * Writes the checkpoints of every subscription of a process together: one statement per
 * interval at most, however many subscriptions handled however many pages meanwhile (before, one
 * statement per subscription and page: the largest share of what the API sent per command).
 *
 * A checkpoint only bounds what is delivered again after a restart: handlers deduplicate by
 * event id (projections store the position they applied; services' reactions carry ids derived
 * from their cause), so one written up to an interval late costs a crash a few events handled
 * twice, never one lost. A failed write keeps the positions and tries again after the interval.
 */
export class CheckpointWriter implements CheckpointRecorder {
  private readonly intervalMs: number;
  private readonly now: () => Date;
  private readonly onError: (error: unknown) => void;
  private pending = new Map<string, number>();
  private readonly written = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly sql: SqlClient,
    options: CheckpointWriterOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 250;
    this.now = options.now ?? (() => new Date());
    this.onError =
      options.onError ?? ((error) => console.error('writing checkpoints failed; retrying', error));
  }

  record(subscriberId: string, position: number): void {
    if (position <= (this.pending.get(subscriberId) ?? -1)) return;
    this.pending.set(subscriberId, position);
    this.schedule();
  }

  stored(subscriberId: string): number | undefined {
    return this.written.get(subscriberId);
  }

  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    // One write at a time: a later one never lands before an earlier one.
    const run = this.writing.then(() => this.write());
    this.writing = run.catch(() => undefined);
    return run;
  }

  /** Writes what is left; nothing is scheduled afterwards. */
  async close(): Promise<void> {
    await this.flush();
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush().catch((error: unknown) => this.onError(error));
    }, this.intervalMs);
    // A process may end with a checkpoint unwritten: its events are delivered again (see above).
    this.timer.unref?.();
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      await this.sql.query(storeCheckpointsSql(), checkpointParameters(batch, this.now()));
    } catch (error) {
      // Kept for the next write, unless a later position was recorded meanwhile.
      for (const [id, position] of batch) {
        if (!this.pending.has(id)) this.pending.set(id, position);
      }
      this.schedule();
      throw error;
    }
    for (const [id, position] of batch) this.written.set(id, position);
  }
}
