import { Actor, COALITION_TASKING_CAUSES, incidentIdOf, StoredEvent } from '@truceline/domain';
import { IncidentCommandHandler } from './incident-command.handler';
import { causeOf } from './reaction';

export const TASKING_ACTOR: Actor = { id: 'coalition-tasking-service', role: 'service' };

/** Events after which an incident may have reached tier 2 or 3. */
const TIER_RAISING = COALITION_TASKING_CAUSES;

/**
 * Coalition tasking (SPEC §5): tasks the coalition of the willing at tier 2 and the
 * Western-backed force at tier 3, once per incident and tier, including skipped tiers.
 */
export class CoalitionTaskingService {
  static readonly reactsTo: ReadonlySet<string> = TIER_RAISING;

  constructor(private readonly incidents: IncidentCommandHandler) {}

  async handle(event: StoredEvent): Promise<void> {
    const incidentId = incidentIdOf(event.streamId);
    if (!incidentId || !TIER_RAISING.has(event.type)) return;
    await this.incidents.react(
      incidentId,
      { type: 'AssignCoalitionTasks', data: {} },
      { actor: TASKING_ACTOR, occurredAt: event.occurredAt, cause: causeOf(event) },
    );
  }
}
