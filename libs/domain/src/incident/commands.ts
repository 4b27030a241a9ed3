import {
  BreachReported,
  CoalitionTaskAnswer,
  DecisionRecorded,
  EscalationAssessed,
  HostilitiesPersisted,
  IncidentResolved,
  NotificationDelivered,
  ResponseActionReported,
  VerificationFindingSubmitted,
  WarningIssued,
  WesternResponseActivated,
  Iso,
  PartnerCode,
} from '../events/events';
import { WarningChannel } from '../workflows/notification.workflow';

/**
 * Commands of the HTTP API (SPEC §6), as plain types. Each targets one incident; the edge
 * validates shape, the decider validates what the incident's state allows.
 */
export type IncidentCommand =
  | { type: 'ReportBreach'; data: BreachReported }
  | { type: 'SubmitFinding'; data: VerificationFindingSubmitted }
  | { type: 'OverrideVerdict'; data: { verdict: 'confirmed' | 'rejected'; reason: string } }
  | { type: 'RecordWarning'; data: WarningIssued }
  | { type: 'ReportResponseAction'; data: ResponseActionReported }
  | { type: 'ReportHostilities'; data: HostilitiesPersisted }
  | { type: 'AssessEscalation'; data: EscalationAssessed }
  | { type: 'RecordDecision'; data: DecisionRecorded }
  | {
      type: 'AnswerTask';
      data: CoalitionTaskAnswer & { answer: 'acknowledge' | 'decline' | 'complete' };
    }
  | { type: 'ActivateWesternResponse'; data: WesternResponseActivated }
  | { type: 'ResolveIncident'; data: IncidentResolved }
  // A ministry's receipt of a notice of its own feed (the feed is checked by the caller).
  | { type: 'AcknowledgeNotice'; data: { partner: PartnerCode; eventId: string } }
  | SystemCommand;

/**
 * Commands the services send in reaction to a fact (their cause travels in the command
 * envelope's metadata). They go through the same decider as the HTTP commands, so every
 * invariant lives once, in decide; what a service computes is only which command to send.
 */
export type SystemCommand =
  /** Ask the verifier roster, or conclude by quorum once enough findings agree. */
  | { type: 'Verify'; data: Record<string, never> }
  /** Task the coalition (tier 2) and the Western-backed force (tier 3) for every tier reached. */
  | { type: 'AssignCoalitionTasks'; data: Record<string, never> }
  /** Issue the diplomatic warning a recorded `authorize-warning` decision calls for. */
  | { type: 'IssueWarning'; data: WarningChannel & { decisionEventId: string; reference: string } }
  /** Record every obligation whose dueAt lies before `now`. */
  | { type: 'RecordMissedDeadlines'; data: { now: Iso } }
  /** Record that a partner's webhook took a notice (a fact, even after resolution). */
  | { type: 'RecordDelivery'; data: NotificationDelivered };

export type IncidentCommandType = IncidentCommand['type'];
