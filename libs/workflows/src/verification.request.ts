import {
  Actor,
  IllegalStateError,
  IncidentCommand,
  IncidentState,
  NewEvent,
  NotFoundError,
  StoredEvent,
} from '@truceline/domain';
import { traceparentOf } from '@truceline/messaging';
import { CommandEnvelope } from './command-envelope';
import { causeOf } from './reaction';

export const VERIFICATION_ACTOR: Actor = { id: 'verification-service', role: 'service' };

export const VERIFY: IncidentCommand = { type: 'Verify', data: {} };

/**
 * The verification service's causes answered in the command that records them, in its append,
 * instead of through the log and back: every report calls for the request (SPEC §5).
 */
export const VERIFICATION_REQUESTED_WITH: ReadonlySet<string> = new Set(['BreachReported']);

/** The envelope of the service's Verify answering `cause`: its actor, the cause's instant. */
export const verificationEnvelope = (
  cause: Pick<StoredEvent, 'id' | 'metadata' | 'occurredAt'>,
): CommandEnvelope => ({
  actor: VERIFICATION_ACTOR,
  occurredAt: cause.occurredAt,
  cause: causeOf(cause),
});

/**
 * What the service would answer `report`, decided on `state` (the incident with the report
 * folded) by the command loop's decide: the same command, actor, cause and id. A refusal is
 * nothing to answer, as for the service's own commands.
 */
export async function verificationRequestWith(
  report: NewEvent,
  state: IncidentState,
  decide: (
    command: IncidentCommand,
    state: IncidentState,
    envelope: CommandEnvelope,
  ) => Promise<NewEvent[]>,
): Promise<NewEvent[]> {
  // The trace the report travels under once published (SPEC §7), as the service's reaction to
  // it through Kafka would continue it.
  const traced = {
    ...report,
    metadata: { ...report.metadata, traceparent: traceparentOf(report) },
  };
  try {
    return await decide(VERIFY, state, verificationEnvelope(traced));
  } catch (error) {
    if (error instanceof IllegalStateError || error instanceof NotFoundError) return [];
    throw error;
  }
}
