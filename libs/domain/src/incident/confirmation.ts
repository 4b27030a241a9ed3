import { IncidentEvent } from '../events/events';
import { EscalationPolicy } from '../policy/policy';
import { repeatedViolation, SectorConfirmation } from './repeated-violation';
import { IncidentState } from './state';

/** The confirmation, carrying the repeated-violation evidence of its time (SPEC §3). */
export function confirmation(
  state: IncidentState,
  ctx: { policy: EscalationPolicy; sectorConfirmations?: SectorConfirmation[] },
  basis: { basis: 'quorum' | 'override'; findings?: string[]; reason?: string },
): IncidentEvent {
  const repeated = repeatedViolation(state, ctx.sectorConfirmations ?? [], ctx.policy);
  return {
    type: 'BreachConfirmed',
    data: { ...basis, ...(repeated ? { repeatedViolation: repeated } : {}) },
  };
}
