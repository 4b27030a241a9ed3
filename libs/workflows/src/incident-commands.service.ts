import { createHash, randomUUID } from 'node:crypto';
import { IncidentCommand, TrucelineError, ValidationError } from '@truceline/domain';
import { deterministicId, migrate, SqlClient } from '@truceline/event-store';
import { IncidentCommandHandler } from './incident-command.handler';
import { Clock, CommandContext, CommandResult, IncidentCommands } from './runtime.port';

const FUTURE_TOLERANCE_MS = 5 * 60_000;

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
 * The HTTP commands of SPEC §6. With an Idempotency-Key the event id (and a new incident's id)
 * derive from the key, so even a retry after a crash between append and bookkeeping finds the
 * first event instead of appending another.
 */
export class IncidentCommandService implements IncidentCommands {
  constructor(
    private readonly handler: IncidentCommandHandler,
    private readonly clock: Clock,
    private readonly sql: SqlClient,
    options: IdempotencyOptions = {},
  ) {
    this.ttlSeconds = Math.round((options.ttlHours ?? DEFAULT_IDEMPOTENCY_TTL_HOURS) * 3600);
    this.leaseSeconds = (options.inFlightLeaseMs ?? 30_000) / 1000;
    this.purgeIntervalMs = options.purgeIntervalMs ?? 10 * 60_000;
  }

  private readonly ttlSeconds: number;
  private readonly leaseSeconds: number;
  private readonly purgeIntervalMs: number;
  private lastPurge = 0;

  async execute(
    incidentId: string | null,
    command: IncidentCommand,
    context: CommandContext,
  ): Promise<CommandResult> {
    const occurredAt = this.occurredAt(context.occurredAt);
    const key = context.idempotencyKey;
    // Only a key's requests are compared: no need to hash the others.
    const requestHash = key
      ? hash({ incidentId, command, occurredAt: context.occurredAt ?? null })
      : '';
    let generation = '';
    if (key) {
      const claimed = await this.claim(context.actor.id, key, requestHash);
      if ('result' in claimed) return claimed.result;
      generation = claimed.generation;
    }
    // Ids derive from the key and when it was first taken: a retry within the TTL finds the
    // first event; the same key used again after it expired is a new request.
    const eventId = key
      ? deterministicId('command', context.actor.id, key, generation)
      : randomUUID();
    const id =
      incidentId ??
      (key ? deterministicId('incident', context.actor.id, key, generation) : randomUUID());
    let result: CommandResult;
    try {
      result = await this.run(
        id,
        eventId,
        command,
        context,
        occurredAt,
        incidentId === null && !key,
      );
    } catch (error) {
      // A refused command leaves the key free for another request, as before it was claimed.
      if (key) await this.release(context.actor.id, key, requestHash);
      throw error;
    }
    if (key) await this.remember(context.actor.id, key, result);
    return result;
  }

  private async run(
    incidentId: string,
    eventId: string,
    command: IncidentCommand,
    context: CommandContext,
    occurredAt: string,
    newIncident: boolean,
  ): Promise<CommandResult> {
    const appended = await this.handler.handle(incidentId, command, {
      newIncident,
      actor: context.actor,
      occurredAt,
      eventId,
      expectedRevision: context.expectedRevision,
      correlationId: context.correlationId,
      traceparent: context.traceparent,
    });
    // Every HTTP command decides at least one event or refuses.
    if (!appended) throw new Error(`${command.type} decided nothing`);
    return {
      incidentId,
      eventId: appended.events[0].id,
      revision: appended.nextExpectedRevision,
      position: appended.position,
    };
  }

  private occurredAt(given: string | undefined): string {
    const now = this.clock.now();
    if (given === undefined) return now.toISOString();
    const at = Date.parse(given);
    if (Number.isNaN(at))
      throw new ValidationError('occurredAt is not a valid instant', [
        { field: 'occurredAt', message: 'must be ISO 8601 with offset' },
      ]);
    if (at > now.getTime() + FUTURE_TOLERANCE_MS)
      throw new ValidationError('occurredAt lies more than 5 minutes in the future', [
        {
          field: 'occurredAt',
          message: `must not be later than ${new Date(now.getTime() + FUTURE_TOLERANCE_MS).toISOString()}`,
        },
      ]);
    return new Date(at).toISOString();
  }

  /**
   * Claims the key for this request before anything is appended (the IETF Idempotency-Key
   * draft): the key is compared exactly as sent, per actor. A key seen with another body → 422,
   * even while the first is in flight; the same request while the first is still in flight →
   * 409; once the first has finished, its result. A key older than the TTL is forgotten (and
   * purged), so it starts afresh. A holder silent for longer than the in-flight lease crashed:
   * this request takes the key over, and the key-derived ids find whatever the holder appended.
   */
  private async claim(
    actorId: string,
    key: string,
    requestHash: string,
  ): Promise<{ result: CommandResult } | { generation: string }> {
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
      result: CommandResult | null;
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
    if (!row) return this.claim(actorId, key, requestHash);
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

  private async remember(actorId: string, key: string, result: CommandResult): Promise<void> {
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
