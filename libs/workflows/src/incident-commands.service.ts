import { randomUUID } from 'node:crypto';
import { IncidentCommand, ValidationError } from '@truceline/domain';
import { deterministicId } from '@truceline/event-store';
import { IdempotencyKeys } from './idempotency-keys';
import { IncidentCommandHandler } from './incident-command.handler';
import { Clock, CommandContext, CommandResult, IncidentCommands } from './runtime.port';

const FUTURE_TOLERANCE_MS = 5 * 60_000;

/**
 * The HTTP commands of SPEC §6. With an Idempotency-Key the event id (and a new incident's id)
 * derive from the key, so even a retry after a crash between append and bookkeeping finds the
 * first event instead of appending another.
 */
export class IncidentCommandService implements IncidentCommands {
  constructor(
    private readonly handler: IncidentCommandHandler,
    private readonly clock: Clock,
    private readonly keys: IdempotencyKeys,
  ) {}

  async execute(
    incidentId: string | null,
    command: IncidentCommand,
    context: CommandContext,
  ): Promise<CommandResult> {
    const occurredAt = this.occurredAt(context.occurredAt);
    const key = context.idempotencyKey;
    if (!key) {
      const id = incidentId ?? randomUUID();
      return this.run(id, randomUUID(), command, context, occurredAt, incidentId === null);
    }
    const request = { incidentId, command, occurredAt: context.occurredAt ?? null };
    return this.keys.once(context.actor.id, key, request, (generation) =>
      // Ids derive from the key and when it was first taken: a retry within the TTL finds the
      // first event; the same key used again after it expired is a new request.
      this.run(
        incidentId ?? deterministicId('incident', context.actor.id, key, generation),
        deterministicId('command', context.actor.id, key, generation),
        command,
        context,
        occurredAt,
        false,
      ),
    );
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
}
