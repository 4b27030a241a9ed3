import {
  Actor,
  coalitionTaskingReactions,
  IncidentEventDataMap,
  incidentIdOf,
  StoredEvent,
} from '@truceline/domain';
import { deterministicId } from '@truceline/event-store';
import { PolicyRegistry } from '@truceline/projections';
import { IncidentRepository, Reaction } from './incident.repository';

export const TASKING_ACTOR: Actor = { id: 'coalition-tasking-service', role: 'service' };

/** Events after which an incident may have reached tier 2 or 3. */
const TIER_RAISING = new Set(['BreachConfirmed', 'HostilitiesPersisted', 'EscalationAssessed']);

/**
 * Coalition tasking (SPEC §5): tasks the coalition of the willing at tier 2 and the
 * Western-backed force at tier 3, once per incident and tier, including skipped tiers.
 */
export class CoalitionTaskingService {
  constructor(
    private readonly incidents: IncidentRepository,
    private readonly policies: PolicyRegistry,
  ) {}

  async handle(event: StoredEvent): Promise<void> {
    const incidentId = incidentIdOf(event.streamId);
    if (!incidentId || !TIER_RAISING.has(event.type)) return;
    await this.incidents.react(incidentId, event, TASKING_ACTOR, (state) =>
      coalitionTaskingReactions(state, this.policies.current(), (tier, member, capability) =>
        deterministicId(incidentId, 'task', String(tier), member, capability),
      ).flatMap(({ at, events }) =>
        events.map((e): Reaction => ({
          id: deterministicId(
            (e.data as IncidentEventDataMap['CoalitionTaskAssigned']).taskId,
            'assigned',
          ),
          occurredAt: at,
          event: e,
        })),
      ),
    );
  }
}
