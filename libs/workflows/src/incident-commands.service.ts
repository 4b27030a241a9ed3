import { createHash, randomUUID } from 'node:crypto';
import {
  ConcurrencyError,
  decideIncident,
  IncidentCommand,
  NewEvent,
  TrucelineError,
  ValidationError,
} from '@truceline/domain';
import { deterministicId, migrate, SqlClient } from '@truceline/event-store';
import { IncidentViews, PolicyRegistry } from '@truceline/projections';
import { IncidentRepository } from './incident.repository';
import { Clock, CommandContext, CommandResult, IncidentCommands } from './runtime.port';

const FUTURE_TOLERANCE_MS = 5 * 60_000;
const MAX_ATTEMPTS = 10;

export async function migrateIdempotency(sql: SqlClient): Promise<void> {
  await migrate(sql, 'idempotency', [
    `CREATE TABLE IF NOT EXISTS idempotency_keys (
       actor_id text NOT NULL, key text NOT NULL, request_hash text NOT NULL,
       result jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (actor_id, key))`,
  ]);
}

/**
 * The HTTP commands of SPEC §6. With an Idempotency-Key the event id (and a new incident's id)
 * derive from the key, so even a retry after a crash between append and bookkeeping finds the
 * first event instead of appending another.
 */
export class IncidentCommandService implements IncidentCommands {
  constructor(
    private readonly repository: IncidentRepository,
    private readonly views: IncidentViews,
    private readonly policies: PolicyRegistry,
    private readonly clock: Clock,
    private readonly sql: SqlClient,
  ) {}

  async execute(
    incidentId: string | null,
    command: IncidentCommand,
    context: CommandContext,
  ): Promise<CommandResult> {
    const occurredAt = this.occurredAt(context.occurredAt);
    const key = context.idempotencyKey;
    const requestHash = hash({ incidentId, command, occurredAt: context.occurredAt ?? null });
    if (key) {
      const known = await this.claim(context.actor.id, key, requestHash);
      if (known) return known;
    }
    const eventId = key ? deterministicId('command', context.actor.id, key) : randomUUID();
    const id =
      incidentId ?? (key ? deterministicId('incident', context.actor.id, key) : randomUUID());
    let result: CommandResult;
    try {
      result = await this.run(id, eventId, command, context, occurredAt);
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
  ): Promise<CommandResult> {
    for (let attempt = 1; ; attempt++) {
      const { state, events: history } = await this.repository.load(incidentId);
      const already = history.find((e) => e.id === eventId);
      if (already)
        return { incidentId, eventId, revision: already.revision, position: already.position };
      if (
        state.status !== 'none' &&
        context.expectedRevision !== undefined &&
        context.expectedRevision !== state.revision
      )
        throw new ConcurrencyError(
          `incident-${incidentId}`,
          context.expectedRevision,
          state.revision,
        );
      const policy = this.policies.current();
      const needsSector =
        command.type === 'OverrideVerdict' && command.data.verdict === 'confirmed';
      const sectorConfirmations =
        needsSector && state.firstViolationAt
          ? await this.views.sectorConfirmations(
              state.sector,
              state.firstViolationAt,
              policy.repeatedViolation.windowHours,
            )
          : [];
      const decided = decideIncident(command, state, {
        actor: context.actor,
        policy,
        occurredAt,
        sectorConfirmations,
      });
      const correlationId = context.correlationId ?? eventId;
      const events: NewEvent[] = decided.map((e, i) => ({
        id: i === 0 ? eventId : deterministicId(eventId, String(i)),
        type: e.type,
        occurredAt,
        data: e.data,
        metadata: this.repository.metadata(context.actor, correlationId, null),
      }));
      try {
        const appended = await this.repository.append(
          incidentId,
          state,
          events,
          context.expectedRevision,
        );
        const first = appended.events[0];
        return {
          incidentId,
          eventId: first.id,
          revision: appended.nextExpectedRevision,
          position: appended.position,
        };
      } catch (error) {
        // With If-Match the client asked for exactly that revision: a conflict is theirs (412).
        if (
          !(error instanceof ConcurrencyError) ||
          context.expectedRevision !== undefined ||
          attempt >= MAX_ATTEMPTS
        )
          throw error;
      }
    }
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
   * Claims the key for this request before anything is appended: of two concurrent requests
   * with one key, one with another body is refused (422) even while the first is in flight,
   * instead of finding the first's event and answering 201 for a request that was never recorded.
   * Returns the first result once known; null while it is in flight or after a crash between
   * append and bookkeeping (the key-derived event id then finds the first event again).
   */
  private async claim(
    actorId: string,
    key: string,
    requestHash: string,
  ): Promise<CommandResult | null> {
    await this.sql.query(
      `INSERT INTO idempotency_keys (actor_id, key, request_hash, result) VALUES ($1, $2, $3, 'null')
       ON CONFLICT (actor_id, key) DO NOTHING`,
      [actorId, key, requestHash],
    );
    const { rows } = await this.sql.query<{ request_hash: string; result: CommandResult | null }>(
      'SELECT request_hash, result FROM idempotency_keys WHERE actor_id = $1 AND key = $2',
      [actorId, key],
    );
    if (rows[0] && rows[0].request_hash !== requestHash)
      throw new TrucelineError(
        'idempotency-conflict',
        'this Idempotency-Key was used for a different request',
      );
    return rows[0]?.result ?? null;
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

function hash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}
