import { IncidentEvent } from '../events/events';
import { IncidentState } from '../incident/state';

export interface WarningChannel {
  channel: string;
  recipient: string;
}

/**
 * When `authorize-warning` is recorded, the notification service issues the diplomatic warning
 * through the agreed channel (SPEC §5) — once per decision, and only while the breach is
 * confirmed and the incident open.
 */
export function warningReactions(
  state: IncidentState,
  decisionEventId: string,
  channel: WarningChannel,
  reference: string,
): IncidentEvent[] {
  const decision = state.decisions.find((d) => d.eventId === decisionEventId);
  if (!decision || decision.decision !== 'authorize-warning' || state.status !== 'open') return [];
  return [{ type: 'WarningIssued', data: { ...channel, reference } }];
}
