import { incidentIdOf, StoredEvent, VERIFICATION_CAUSES } from '@truceline/domain';
import { IncidentCommandHandler } from './incident-command.handler';
import { VERIFICATION_REQUESTED_WITH, verificationEnvelope, VERIFY } from './verification.request';

export { VERIFICATION_ACTOR } from './verification.request';

/**
 * Verification (SPEC §5): requests verification from the roster for every new report, and
 * confirms or rejects by quorum. Its reactions carry the occurredAt of the event they react to.
 * A report is answered in the command that records it (see verification.request.ts): the
 * service consumes the rest of its causes, the findings.
 */
export class VerificationService {
  static readonly reactsTo: ReadonlySet<string> = new Set(
    [...VERIFICATION_CAUSES].filter((type) => !VERIFICATION_REQUESTED_WITH.has(type)),
  );

  constructor(private readonly incidents: IncidentCommandHandler) {}

  async handle(event: StoredEvent): Promise<void> {
    const incidentId = incidentIdOf(event.streamId);
    if (!incidentId || !VerificationService.reactsTo.has(event.type)) return;
    await this.incidents.react(incidentId, VERIFY, verificationEnvelope(event));
  }
}
