import { CoalitionTaskAssigned, IncidentEvent } from '../events/events';
import { addHours, EscalationPolicy } from '../policy/policy';
import { IncidentState } from '../incident/state';

/**
 * The facts after which an incident may have reached tier 2 or 3: the coalition-tasking service
 * answers each with `AssignCoalitionTasks`. Every runner of the rule reads it here.
 */
export const COALITION_TASKING_CAUSES: ReadonlySet<string> = new Set([
  'BreachConfirmed',
  'HostilitiesPersisted',
  'EscalationAssessed',
]);

export type TaskIdOf = (tier: 2 | 3, member: string, capability: string) => string;

/**
 * Coalition tasking (SPEC §5): at tier 2 the coalition of the willing, at tier 3 the
 * Western-backed force (US elements included), once per incident and tier. An incident that
 * jumps tiers also gets the measures of the tier it skipped. Tasks are due
 * `coalitionAckWindowHours` after the tier was reached (the tier change's occurredAt), so the
 * reaction stays causal however late it is recorded. Only reached through decide's
 * `AssignCoalitionTasks`, which refuses it unless the breach is confirmed and open.
 */
export function coalitionTaskingReactions(
  state: IncidentState,
  policy: EscalationPolicy,
  taskIdOf: TaskIdOf,
): { tier: 2 | 3; at: string; events: IncidentEvent[] }[] {
  if (state.tier === null || state.tier < 2) return [];
  const out: { tier: 2 | 3; at: string; events: IncidentEvent[] }[] = [];
  for (const tier of [2, 3] as const) {
    if (state.tier < tier || state.tasks.some((t) => t.tier === tier)) continue;
    const reached = state.tierHistory.find((h) => h.tier === tier);
    if (!reached) continue;
    const roster = tier === 2 ? policy.coalitionRoster : policy.westernForceRoster;
    const dueAt = addHours(reached.at, policy.coalitionAckWindowHours);
    const events = roster.flatMap(({ member, capabilities }) =>
      capabilities.map((capability): IncidentEvent => {
        const data: CoalitionTaskAssigned = {
          taskId: taskIdOf(tier, member, capability),
          member,
          capability,
          dueAt,
          tier,
        };
        return { type: 'CoalitionTaskAssigned', data };
      }),
    );
    out.push({ tier, at: reached.at, events });
  }
  return out;
}
