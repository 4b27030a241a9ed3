import { Actor, incidentIdOf, StoredEvent, VERIFICATION_CAUSES } from '@truceline/domain';
import { IncidentCommandHandler } from './incident-command.handler';
import { causeOf } from './reaction';

export const VERIFICATION_ACTOR: Actor = { id: 'verification-service', role: 'service' };

/**
 * Verification (SPEC §5): requests verification from the roster for every new report, and
 * confirms or rejects by quorum. Its reactions carry the occurredAt of the event they react to.
 */
export class VerificationService {
  static readonly reactsTo = VERIFICATION_CAUSES;

  constructor(private readonly incidents: IncidentCommandHandler) {}

  async handle(event: StoredEvent): Promise<void> {
    const incidentId = incidentIdOf(event.streamId);
    if (!incidentId || !VerificationService.reactsTo.has(event.type)) return;
    await this.incidents.react(
      incidentId,
      { type: 'Verify', data: {} },
      { actor: VERIFICATION_ACTOR, occurredAt: event.occurredAt, cause: causeOf(event) },
    );
  }
}
