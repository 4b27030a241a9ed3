import { Actor } from '@truceline/domain';

/** The fact a command answers: its id becomes the causation, its correlation and trace go on. */
export interface CommandCause {
  id: string;
  correlationId?: string;
  traceparent?: string;
}

/** Everything about a command that is not the command: who, when, and how it relates. */
export interface CommandEnvelope {
  actor: Actor;
  /** occurredAt of the events, unless decide names another (already checked against the clock). */
  occurredAt: string;
  /** Id of the first event decide returns without one (HTTP: derived from the Idempotency-Key). */
  eventId?: string;
  /** `If-Match`: the revision the caller saw. A conflict is then the caller's; no retry. */
  expectedRevision?: number;
  correlationId?: string;
  /** The caller's trace (HTTP `traceparent`) when the command has no cause of its own. */
  traceparent?: string;
  cause?: CommandCause;
  /**
   * The incident id was just drawn at random for this command: its stream cannot exist yet, so
   * the first attempt does not read it (the append still checks 'no-stream').
   */
  newIncident?: boolean;
}
