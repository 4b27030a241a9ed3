import {
  BreachReported,
  CoalitionTaskAnswer,
  DecisionRecorded,
  EscalationAssessed,
  HostilitiesPersisted,
  IncidentResolved,
  ResponseActionReported,
  VerificationFindingSubmitted,
  WarningIssued,
  WesternResponseActivated,
} from '../events/events';

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
  | { type: 'ResolveIncident'; data: IncidentResolved };

export type IncidentCommandType = IncidentCommand['type'];
