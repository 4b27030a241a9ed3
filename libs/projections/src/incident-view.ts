import { Acknowledgement, CoalitionTask, Iso, ObligationKind } from '@truceline/domain';

/** The body of `GET /v1/incidents/{id}` (SPEC §6). */
export interface IncidentView {
  incidentId: string;
  status: 'verifying' | 'open' | 'rejected' | 'resolved';
  tier: 0 | 1 | 2 | 3;
  sector: string;
  revision: number;
  firstViolationAt: Iso;
  exercise: boolean;
  tierHistory: {
    tier: number;
    at: Iso;
    recordedAt: Iso;
    causedBy: string;
    policyVersion: number;
  }[];
  obligations: {
    kind: ObligationKind;
    dueAt: Iso;
    status: 'open' | 'met' | 'missed' | 'closed';
    satisfiedAt?: Iso;
    missedAt?: Iso;
    refId?: string;
    /** True when the satisfying event was recorded after the DeadlineMissed (SPEC §2). */
    recordedLate?: boolean;
  }[];
  coalitionTasks: CoalitionTask[];
  /** Receipts of the incident's notices (SPEC §4), when there are any. */
  acknowledgements?: Acknowledgement[];
}

export interface IncidentListFilter {
  tier?: number;
  status?: IncidentView['status'];
  sector?: string;
  cursor?: string;
  limit?: number;
}

export interface IncidentSummary {
  incidentId: string;
  status: IncidentView['status'];
  tier: number;
  sector: string;
  firstViolationAt: Iso;
  revision: number;
  /** Drill data (SPEC §2): recorded in exercise mode. */
  exercise: boolean;
}

export interface IncidentPage {
  items: IncidentSummary[];
  nextCursor: string | null;
}
