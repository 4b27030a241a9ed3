import { IncidentEvent } from '../events/events';
import { IncidentState } from '../incident/state';

export interface WarningChannel {
  channel: string;
  recipient: string;
}

/**
 * When `authorize-warning` is recorded, the notification service issues the diplomatic warning
 * through the agreed channel (SPEC §5) — once per decision. Only reached through decide's
 * `IssueWarning`, which holds it to the rule of every warning: a confirmed, open breach.
 */
export function warningReactions(
  state: IncidentState,
  decisionEventId: string,
  channel: WarningChannel,
  reference: string,
): IncidentEvent[] {
  const decision = state.decisions.find((d) => d.eventId === decisionEventId);
  if (!decision || decision.decision !== 'authorize-warning') return [];
  return [{ type: 'WarningIssued', data: { ...channel, reference } }];
}
