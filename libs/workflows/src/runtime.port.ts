import { Actor, IncidentCommand, StoredEvent } from '@truceline/domain';
import { EventStore } from '@truceline/event-store';
import { IncidentListFilter, IncidentPage, IncidentView } from '@truceline/projections';

/** The one clock every process follows (SPEC §2): system time or the exercise clock. */
export interface Clock {
  readonly mode: 'system' | 'exercise';
  now(): Date;
  /** Exercise mode only: move forward (moving back → IllegalStateError 'clock-backwards'). */
  advance(to: Date): Promise<Date>;
}

export interface CommandContext {
  actor: Actor;
  /** From the body; defaults to the clock's now. More than 5 min in the future → ValidationError. */
  occurredAt?: string;
  /** `Idempotency-Key` header: a retry with the same key returns the first result, appends nothing. */
  idempotencyKey?: string;
  /** `If-Match: "<revision>"`: stale → ConcurrencyError (412). */
  expectedRevision?: number;
  correlationId?: string;
}

/** 201 body of every command (SPEC §6). */
export interface CommandResult {
  incidentId: string;
  eventId: string;
  revision: number;
  position: number;
}

export interface IncidentCommands {
  /**
   * Runs one command. `incidentId` is null for ReportBreach (a new incident).
   * Throws TrucelineError subclasses: ValidationError 400, ForbiddenError 403,
   * NotFoundError 404, IllegalStateError 409, ConcurrencyError 412,
   * TrucelineError('idempotency-conflict') 422 when a key is reused for another request.
   */
  execute(
    incidentId: string | null,
    command: IncidentCommand,
    context: CommandContext,
  ): Promise<CommandResult>;
}

export interface IncidentQueries {
  get(incidentId: string): Promise<IncidentView | null>;
  list(filter: IncidentListFilter): Promise<IncidentPage>;
  /** The raw stream; null when the incident does not exist. */
  events(incidentId: string): Promise<StoredEvent[] | null>;
}

/** Everything an app's edge needs, built once at boot by the composition root. */
export interface Runtime {
  clock: Clock;
  store: EventStore;
  commands: IncidentCommands;
  queries: IncidentQueries;
  /** True once the store answers and projections have caught up at least once. */
  isReady(): Promise<boolean>;
  close(): Promise<void>;
}
