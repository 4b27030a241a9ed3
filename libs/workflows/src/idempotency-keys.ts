import { createHash } from 'node:crypto';
import { TrucelineError } from '@truceline/domain';
import { migrate, SqlClient } from '@truceline/event-store';

export async function migrateIdempotency(sql: SqlClient): Promise<void> {
  await migrate(sql, 'idempotency', [
    `CREATE TABLE IF NOT EXISTS idempotency_keys (
       actor_id text NOT NULL, key text NOT NULL, request_hash text NOT NULL,
       result jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (actor_id, key))`,
    // claimed_at: when the request in flight took the key (a lease, see claim); the index
    // serves the purge of expired keys.
    `ALTER TABLE idempotency_keys ADD COLUMN claimed_at timestamptz NOT NULL DEFAULT now();
     CREATE INDEX IF NOT EXISTS idempotency_keys_created_at ON idempotency_keys (created_at)`,
  ]);
}

/**
 * Frees every key still claimed by a request in flight. Only for the embedded store: one process
 * alone opens its data, so at start any such claim was left by a process that crashed, and its
 * client's retry must not wait out the lease. (With PostgreSQL other API processes may hold
 * claims that are alive; there a crashed holder's claim lapses with the lease.)
 */
export async function releaseAbandonedClaims(sql: SqlClient): Promise<void> {
  await sql.query(
    `UPDATE idempotency_keys SET claimed_at = '-infinity' WHERE result = 'null'::jsonb`,
  );
}

export interface IdempotencyOptions {
  /** How long a key is remembered (TRUCELINE_IDEMPOTENCY_TTL_HOURS, default 24). */
  ttlHours?: number;
  /**
   * How long a request holding a key counts as in flight: a duplicate meanwhile gets 409. A
   * holder that crashed is taken over after this, and the key-derived ids find what it appended.
   */
  inFlightLeaseMs?: number;
  /** Expired keys are purged at most this often, by whichever command runs. */
  purgeIntervalMs?: number;
}

export const DEFAULT_IDEMPOTENCY_TTL_HOURS = 24;

/** Deletes every key older than the TTL: such a key is forgotten (SPEC §8). */
export async function purgeExpiredIdempotencyKeys(sql: SqlClient, ttlHours: number): Promise<void> {
  await sql.query(
    'DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1)',
    [Math.round(ttlHours * 3600)],
  );
}

/**
 * Idempotency-Key (SPEC §6): a retry with the same key returns the first response and does
 * nothing else. Shared by every command route, so one key is one request whatever the route:
 * the same key sent with another request (another body, another route) is a conflict.
 */
export class IdempotencyKeys {
  private readonly ttlSeconds: number;
  private readonly leaseSeconds: number;
  private readonly purgeIntervalMs: number;
  private lastPurge = 0;

  constructor(
    private readonly sql: SqlClient,
    options: IdempotencyOptions = {},
  ) {
    this.ttlSeconds = Math.round((options.ttlHours ?? DEFAULT_IDEMPOTENCY_TTL_HOURS) * 3600);
    this.leaseSeconds = (options.inFlightLeaseMs ?? 30_000) / 1000;
    this.purgeIntervalMs = options.purgeIntervalMs ?? 10 * 60_000;
  }

  /**
   * Runs `first` once for the caller's `key` and `request` and remembers what it returned
   * (a JSON value): a retry gets that result back. `generation` (when the key was first taken)
   * lets `first` derive its ids from the key, so a retry after a crash between the effect and
   * its bookkeeping finds the effect instead of repeating it. A refused `first` leaves the key
   * free, as before it was claimed.
   */
  async once<T>(
    actorId: string,
    key: string,
    request: unknown,
    first: (generation: string) => Promise<T>,
  ): Promise<T> {
    const requestHash = hash(request);
    const claimed = await this.claim<T>(actorId, key, requestHash);
    if ('result' in claimed) return claimed.result;
    let result: T;
    try {
      result = await first(claimed.generation);
    } catch (error) {
      await this.release(actorId, key, requestHash);
      throw error;
    }
    await this.remember(actorId, key, result);
    return result;
  }

  /**
   * Claims the key for this request before anything is appended (the IETF Idempotency-Key
   * draft): the key is compared exactly as sent, per actor. A key seen with another body → 422,
   * even while the first is in flight; the same request while the first is still in flight →
   * 409; once the first has finished, its result. A key older than the TTL is forgotten (and
   * purged), so it starts afresh. A holder silent for longer than the in-flight lease crashed:
   * this request takes the key over, and the key-derived ids find whatever the holder appended.
   */
  private async claim<T>(
    actorId: string,
    key: string,
    requestHash: string,
  ): Promise<{ result: T } | { generation: string }> {
    this.purgeExpired();
    await this.sql.query(
      `DELETE FROM idempotency_keys
        WHERE actor_id = $1 AND key = $2 AND created_at < now() - make_interval(secs => $3)`,
      [actorId, key, this.ttlSeconds],
    );
    const inserted = await this.sql.query<{ created_at: Date | string }>(
      `INSERT INTO idempotency_keys (actor_id, key, request_hash, result) VALUES ($1, $2, $3, 'null')
       ON CONFLICT (actor_id, key) DO NOTHING RETURNING created_at`,
      [actorId, key, requestHash],
    );
    if (inserted.rows[0]) return { generation: isoOf(inserted.rows[0].created_at) };
    const { rows } = await this.sql.query<{
      request_hash: string;
      result: T | null;
      created_at: Date | string;
      in_flight: boolean;
    }>(
      `SELECT request_hash, result, created_at,
              claimed_at > now() - make_interval(secs => $3) AS in_flight
         FROM idempotency_keys WHERE actor_id = $1 AND key = $2`,
      [actorId, key, this.leaseSeconds],
    );
    const row = rows[0];
    // Gone between the insert and the select (released by a refused first request): retry.
    if (!row) return this.claim<T>(actorId, key, requestHash);
    if (row.request_hash !== requestHash)
      throw new TrucelineError(
        'idempotency-conflict',
        'this Idempotency-Key was used for a different request',
      );
    if (row.result) return { result: row.result };
    if (row.in_flight)
      throw new TrucelineError(
        'idempotency-in-flight',
        'a request with this Idempotency-Key is still being processed: retry once it has answered',
      );
    const takenOver = await this.sql.query(
      `UPDATE idempotency_keys SET claimed_at = now()
        WHERE actor_id = $1 AND key = $2 AND result = 'null'::jsonb
          AND claimed_at <= now() - make_interval(secs => $3)
       RETURNING key`,
      [actorId, key, this.leaseSeconds],
    );
    if (takenOver.rows.length === 0)
      throw new TrucelineError(
        'idempotency-in-flight',
        'a request with this Idempotency-Key is still being processed: retry once it has answered',
      );
    return { generation: isoOf(row.created_at) };
  }

  /** Deletes expired keys, at most once per interval, without holding up the command. */
  private purgeExpired(): void {
    if (Date.now() - this.lastPurge < this.purgeIntervalMs) return;
    this.lastPurge = Date.now();
    purgeExpiredIdempotencyKeys(this.sql, this.ttlSeconds / 3600).catch(() => {
      this.lastPurge = 0; // try again with the next command
    });
  }

  private async release(actorId: string, key: string, requestHash: string): Promise<void> {
    await this.sql.query(
      `DELETE FROM idempotency_keys
        WHERE actor_id = $1 AND key = $2 AND request_hash = $3 AND result = 'null'::jsonb`,
      [actorId, key, requestHash],
    );
  }

  private async remember(actorId: string, key: string, result: unknown): Promise<void> {
    await this.sql.query(
      'UPDATE idempotency_keys SET result = $3 WHERE actor_id = $1 AND key = $2',
      [actorId, key, JSON.stringify(result)],
    );
  }
}

const isoOf = (at: Date | string): string => new Date(at).toISOString();

function hash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}
