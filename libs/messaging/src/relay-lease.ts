import { performance } from 'node:perf_hooks';
import {
  checkpointParameters,
  migrate,
  SqlClient,
  storeCheckpointsSql,
} from '@truceline/event-store';

/** Migration steps of the 'relay' component (append-only: add steps, never edit one). */
export const RELAY_COMPONENT = 'relay';
export const RELAY_MIGRATIONS: string[] = [
  `
  -- One row per relayed topic: who may publish it, until when (database time). epoch grows at
  -- every change of owner, so logs tell one leadership from the next.
  CREATE TABLE relay_leases (
    name text PRIMARY KEY,
    owner text NOT NULL,
    epoch bigint NOT NULL,
    acquired_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
  );
  `,
];

/** The lease was taken over (or ran out) while its holder still worked under it. */
export class LeaseLostError extends Error {
  readonly code = 'lease-lost';

  constructor(
    readonly lease: string,
    readonly owner: string,
  ) {
    super(`relay lease ${lease} is no longer held by ${owner}`);
    this.name = new.target.name;
  }
}

/**
 * A time-limited lock in a database row, the same SQL on PostgreSQL and PGlite (which has no
 * sessions to hang an advisory lock on). The holder renews it well before it runs out; a
 * standby's acquire succeeds only once it has expired, so a holder that died is replaced after at
 * most the TTL. Expiry is judged by the database clock alone, never by comparing machines' clocks.
 *
 * The holder also keeps a local deadline, measured from the moment it *sent* its last successful
 * renewal: the database stamped the expiry later than that, so the local deadline runs out first
 * and the holder stops working before anyone else can start.
 */
export class RelayLease {
  private deadline = 0;
  private epoch: number | null = null;

  constructor(
    private readonly sql: SqlClient,
    readonly name: string,
    readonly owner: string,
    private readonly ttlMs: number,
  ) {}

  static async migrate(sql: SqlClient): Promise<void> {
    await migrate(sql, RELAY_COMPONENT, RELAY_MIGRATIONS);
  }

  /** Takes the lease if it is free or expired, renews it if held; false when another holds it. */
  async acquire(): Promise<boolean> {
    const sentAt = performance.now();
    const { rows } = await this.sql.query<{ epoch: string }>(
      `INSERT INTO relay_leases AS lease (name, owner, epoch, acquired_at, expires_at)
       VALUES ($1, $2, 1, clock_timestamp(), clock_timestamp() + $3::integer * interval '1 millisecond')
       ON CONFLICT (name) DO UPDATE SET
         owner = EXCLUDED.owner,
         expires_at = EXCLUDED.expires_at,
         epoch = CASE WHEN lease.owner = EXCLUDED.owner THEN lease.epoch ELSE lease.epoch + 1 END,
         acquired_at = CASE WHEN lease.owner = EXCLUDED.owner THEN lease.acquired_at
                            ELSE EXCLUDED.acquired_at END
       WHERE lease.owner = EXCLUDED.owner OR lease.expires_at <= clock_timestamp()
       RETURNING epoch`,
      [this.name, this.owner, this.ttlMs],
    );
    if (rows.length === 0) {
      this.deadline = 0;
      this.epoch = null;
      return false;
    }
    // A tenth of the TTL spare for the time between this check and the work it guards.
    this.deadline = sentAt + this.ttlMs * 0.9;
    this.epoch = Number(rows[0].epoch);
    return true;
  }

  /** True while the last renewal is recent enough that nobody else can have taken over. */
  held(): boolean {
    return performance.now() < this.deadline;
  }

  /** Fencing token of the current holding (null when not held). */
  currentEpoch(): number | null {
    return this.held() ? this.epoch : null;
  }

  /** Forget the holding locally, e.g. after a LeaseLostError. */
  drop(): void {
    this.deadline = 0;
    this.epoch = null;
  }

  /**
   * Runs `fn` in a transaction that first locks the lease row, and only if this owner still holds
   * it unexpired: a competitor's takeover waits for this transaction, so nothing written here
   * can land after someone else started. Throws LeaseLostError otherwise.
   */
  async whileHeld<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    return this.sql.transaction(async (tx) => {
      const { rows } = await tx.query(
        `SELECT 1 FROM relay_leases
         WHERE name = $1 AND owner = $2 AND expires_at > clock_timestamp() FOR UPDATE`,
        [this.name, this.owner],
      );
      if (rows.length === 0) {
        this.drop();
        throw new LeaseLostError(this.name, this.owner);
      }
      return fn(tx);
    });
  }

  /**
   * Stores checkpoints only if this owner still holds the lease unexpired, as `whileHeld` would,
   * but in one statement: the lease row is locked first (a competitor's takeover waits for the
   * statement), then the checkpoints are written, or none when the lease is gone. A relay stores
   * a checkpoint after every Kafka transaction, and the next transaction's commit waits for it:
   * BEGIN, the lock, the write and COMMIT were four round trips on that path, each holding the
   * lease row locked while the next was scheduled. Throws LeaseLostError when not held.
   */
  async storeCheckpoints(positions: ReadonlyMap<string, number>, now = new Date()): Promise<void> {
    const { rows } = await this.sql.query<{ held: boolean }>(
      `WITH held AS (
         SELECT 1 FROM relay_leases
          WHERE name = $4 AND owner = $5 AND expires_at > clock_timestamp() FOR UPDATE
       ), stored AS (${storeCheckpointsSql('EXISTS (SELECT 1 FROM held)')})
       SELECT EXISTS (SELECT 1 FROM held) AS held`,
      [...checkpointParameters(positions, now), this.name, this.owner],
      // relay_leases holds a row per relayed thing, never more: no plan of the lookup gets
      // worse as tables grow, and the insert is from the parameters.
      { prepare: true },
    );
    if (rows[0]?.held !== true) {
      this.drop();
      throw new LeaseLostError(this.name, this.owner);
    }
  }

  /** Hands the lease back at once (a clean stop), so a standby need not wait for the TTL. */
  async release(): Promise<void> {
    this.drop();
    await this.sql.query(
      `UPDATE relay_leases SET expires_at = clock_timestamp() WHERE name = $1 AND owner = $2`,
      [this.name, this.owner],
    );
  }
}
