import { BreachConfirmed, IncidentEventType } from '../events/events';
import { Tier } from './state';

/** What the rule reads of the event that caused a tier change. */
export interface TierCause {
  type: IncidentEventType | string;
  data: unknown;
}

/**
 * The SPEC §5 rule that moved an incident to `tier`, in the words of the SPEC, for the audit
 * trail. It mirrors `evolveIncident`'s raiseTier: an event that lifts the incident over a tier
 * (1 → 3) records the skipped tier with the same cause, and that entry names why.
 */
export function tierRule(tier: Tier, cause: TierCause): string {
  switch (cause.type) {
    case 'BreachReported':
      return '0 after BreachReported';
    case 'BreachConfirmed': {
      if (tier <= 1) return '1 after BreachConfirmed';
      const repeated = (cause.data as Partial<BreachConfirmed> | null)?.repeatedViolation;
      const detail = repeated
        ? ` (${repeated.incidentIds.length + 1} confirmed breaches in ${repeated.sector} ` +
          `within ${repeated.windowHours} h)`
        : '';
      return `2 at confirmation when the sector is under repeated violation${detail}`;
    }
    case 'HostilitiesPersisted':
      return '2 after HostilitiesPersisted while tier ≥ 1';
    case 'EscalationAssessed': {
      const rule = '3 after EscalationAssessed with scale large-scale while tier ≥ 1';
      return tier === 3 ? rule : `${rule} (tier ${tier} passed on the way: its measures apply)`;
    }
    default:
      // No other event raises a tier; a stored history that says otherwise is shown as it is.
      return `${tier} after ${cause.type} (no §5 rule raises a tier on this event)`;
  }
}
