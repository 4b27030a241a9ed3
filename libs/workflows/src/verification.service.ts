import { Actor, incidentIdOf, StoredEvent, verificationReactions } from '@truceline/domain';
import { deterministicId } from '@truceline/event-store';
import { IncidentViews, PolicyRegistry } from '@truceline/projections';
import { IncidentRepository } from './incident.repository';

export const VERIFICATION_ACTOR: Actor = { id: 'verification-service', role: 'service' };

/**
 * Verification (SPEC §5): requests verification from the roster for every new report, and
 * confirms or rejects by quorum. Its reactions carry the occurredAt of the event they react to.
 */
export class VerificationService {
  static readonly reactsTo = new Set(['BreachReported', 'VerificationFindingSubmitted']);

  constructor(
    private readonly incidents: IncidentRepository,
    private readonly views: IncidentViews,
    private readonly policies: PolicyRegistry,
  ) {}

  async handle(event: StoredEvent): Promise<void> {
    const incidentId = incidentIdOf(event.streamId);
    if (!incidentId || !VerificationService.reactsTo.has(event.type)) return;
    await this.incidents.react(incidentId, event, VERIFICATION_ACTOR, async (state) => {
      const policy = this.policies.current();
      const sectorConfirmations = state.firstViolationAt
        ? await this.views.sectorConfirmations(
            state.sector,
            state.firstViolationAt,
            policy.repeatedViolation.windowHours,
          )
        : [];
      return verificationReactions(state, {
        actor: VERIFICATION_ACTOR,
        policy,
        occurredAt: event.occurredAt,
        sectorConfirmations,
      }).map((reaction) => ({
        // One request per incident, one verdict per incident: ids that a replay reproduces.
        id: deterministicId(incidentId, 'verification', reaction.type),
        occurredAt: event.occurredAt,
        event: reaction,
      }));
    });
  }
}
