import { Capability, Iso, ObligationKind, PartnerCode, Finding } from '../events/events';

export type IncidentStatus = 'none' | 'verifying' | 'open' | 'rejected' | 'resolved';
export type Tier = 0 | 1 | 2 | 3;

export interface Obligation {
  kind: ObligationKind;
  /** Coalition tasks: the task id; otherwise absent. */
  refId?: string;
  dueAt: Iso;
  status: 'open' | 'met' | 'missed' | 'closed';
  satisfiedAt?: Iso;
  /** occurredAt of the DeadlineMissed (its dueAt) and when that became known. */
  missedAt?: Iso;
  missedRecordedAt?: Iso;
  /** A satisfying event with occurredAt ≤ dueAt arrived after the DeadlineMissed (SPEC §2). */
  recordedLate?: boolean;
}

export interface CoalitionTask {
  taskId: string;
  tier: 2 | 3;
  member: PartnerCode;
  capability: Capability;
  dueAt: Iso;
  status: 'assigned' | 'acknowledged' | 'declined' | 'completed';
}

export interface TierChange {
  tier: Tier;
  at: Iso;
  recordedAt: Iso;
  causedBy: string;
  policyVersion: number;
}

/** The incident folded from its own stream: everything a decision or a view needs. */
export interface IncidentState {
  incidentId: string | null;
  status: IncidentStatus;
  tier: Tier | null;
  revision: number | null;
  sector: string;
  firstViolationAt: Iso | null;
  confirmedAt: Iso | null;
  exercise: boolean;
  verifiers: PartnerCode[];
  verificationRequested: boolean;
  /** Each finding, with when it occurred (absent in states stored before it was kept). */
  findings: { verifier: PartnerCode; finding: Finding; eventId: string; at?: Iso }[];
  tierHistory: TierChange[];
  obligations: Obligation[];
  tasks: CoalitionTask[];
  warningsIssued: number;
  /** Ids of the decisions that have already been acted upon (e.g. the warning issued for them). */
  decisions: { eventId: string; decision: string }[];
  /** Receipts of notices (NoticeAcknowledged): who knew what, and when (SPEC §4). */
  acknowledgements: Acknowledgement[];
}

export interface Acknowledgement {
  partner: PartnerCode;
  /** The tier change, warning or task notice acknowledged. */
  eventId: string;
  /** occurredAt of the NoticeAcknowledged. */
  at: Iso;
}

export const initialIncidentState = (): IncidentState => ({
  incidentId: null,
  status: 'none',
  tier: null,
  revision: null,
  sector: '',
  firstViolationAt: null,
  confirmedAt: null,
  exercise: false,
  verifiers: [],
  verificationRequested: false,
  findings: [],
  tierHistory: [],
  obligations: [],
  tasks: [],
  warningsIssued: 0,
  decisions: [],
  acknowledgements: [],
});

export const obligationKey = (o: Pick<Obligation, 'kind' | 'refId'>): string =>
  o.refId ? `${o.kind}:${o.refId}` : o.kind;
