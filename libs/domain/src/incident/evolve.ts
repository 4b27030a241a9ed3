import { addHours, EscalationPolicy } from '../policy/policy';
import { IncidentEvent, ObligationKind } from '../events/events';
import { EventMetadata, incidentIdOf } from '../events/envelope';
import { CoalitionTask, IncidentState, Obligation, Tier, obligationKey } from './state';

/** What evolve reads of a stored event: the fact plus when it happened and was recorded. */
export type IncidentFact = IncidentEvent & {
  id: string;
  streamId: string;
  revision: number;
  occurredAt: string;
  recordedAt: string;
  metadata: Pick<EventMetadata, 'policyVersion'> & Partial<EventMetadata>;
};

export type PolicyLookup = (version: number) => EscalationPolicy;

const before = (a: string, b: string): boolean => Date.parse(a) <= Date.parse(b);

/** Tier only rises (SPEC §5); each tier reached is recorded once with the event that caused it. */
function raiseTier(state: IncidentState, to: Tier, fact: IncidentFact): IncidentState {
  const from = state.tier ?? -1;
  if (to <= from) return state;
  const history = [...state.tierHistory];
  for (let tier = Math.max(from + 1, 0); tier <= to; tier++) {
    history.push({
      tier: tier as Tier,
      at: fact.occurredAt,
      recordedAt: fact.recordedAt,
      causedBy: fact.id,
      policyVersion: fact.metadata.policyVersion,
    });
  }
  return { ...state, tier: to, tierHistory: history };
}

const confirmedTier = (state: IncidentState): boolean => (state.tier ?? -1) >= 1;

function openObligation(state: IncidentState, obligation: Obligation): IncidentState {
  const key = obligationKey(obligation);
  if (state.obligations.some((o) => obligationKey(o) === key)) return state;
  return { ...state, obligations: [...state.obligations, obligation] };
}

/**
 * An obligation is met by an event whose occurredAt ≤ dueAt, even when it is recorded after a
 * DeadlineMissed (then it shows met, recorded late; the DeadlineMissed stays in the log).
 */
function satisfy(
  state: IncidentState,
  kind: ObligationKind,
  fact: IncidentFact,
  refId?: string,
): IncidentState {
  return {
    ...state,
    obligations: state.obligations.map((o) => {
      if (o.kind !== kind || o.refId !== refId) return o;
      if (o.status === 'met' || o.status === 'closed') return o;
      if (!before(fact.occurredAt, o.dueAt)) return o;
      return {
        ...o,
        status: 'met',
        satisfiedAt: fact.occurredAt,
        recordedLate: o.status === 'missed',
      };
    }),
  };
}

export function evolveIncident(
  state: IncidentState,
  fact: IncidentFact,
  policyOf: PolicyLookup,
): IncidentState {
  const s: IncidentState = { ...state, revision: fact.revision };
  if (fact.metadata.exercise) s.exercise = true;
  const policy = () => policyOf(fact.metadata.policyVersion);
  switch (fact.type) {
    case 'BreachReported': {
      const reported: IncidentState = {
        ...s,
        incidentId: incidentIdOf(fact.streamId),
        status: 'verifying',
        sector: fact.data.location.sector,
        firstViolationAt: fact.occurredAt,
      };
      return openObligation(raiseTier(reported, 0, fact), {
        kind: 'verification',
        dueAt: addHours(fact.occurredAt, policy().verificationWindowHours),
        status: 'open',
      });
    }
    case 'VerificationRequested':
      return { ...s, verificationRequested: true, verifiers: [...fact.data.verifiers] };
    case 'VerificationFindingSubmitted':
      return {
        ...s,
        findings: [
          ...s.findings,
          {
            verifier: fact.data.verifier,
            finding: fact.data.finding,
            eventId: fact.id,
            at: fact.occurredAt,
          },
        ],
      };
    case 'BreachConfirmed': {
      const confirmed = satisfy(
        { ...s, status: 'open', confirmedAt: fact.occurredAt },
        'verification',
        fact,
      );
      const tier: Tier = fact.data.repeatedViolation ? 2 : 1;
      return openObligation(raiseTier(confirmed, tier, fact), {
        kind: 'warning',
        dueAt: addHours(fact.occurredAt, policy().warningWindowHours),
        status: 'open',
      });
    }
    case 'BreachRejected':
      return satisfy({ ...s, status: 'rejected' }, 'verification', fact);
    case 'WarningIssued':
      return satisfy({ ...s, warningsIssued: s.warningsIssued + 1 }, 'warning', fact);
    // SPEC §5: tiers 2 and 3 are reached from a confirmed breach ("while tier ≥ 1"); a fact that
    // decide would have refused (before confirmation, after rejection) is kept but raises nothing.
    case 'HostilitiesPersisted':
      return confirmedTier(s) ? raiseTier(s, 2, fact) : s;
    case 'EscalationAssessed': {
      if (fact.data.scale !== 'large-scale' || !confirmedTier(s)) return s;
      const raised = raiseTier(s, 3, fact);
      return openObligation(raised, {
        kind: 'western-response',
        dueAt: addHours(s.firstViolationAt ?? fact.occurredAt, policy().westernResponseWindowHours),
        status: 'open',
      });
    }
    case 'CoalitionTaskAssigned': {
      const { taskId, member, capability, dueAt, tier } = fact.data;
      const withTask = {
        ...s,
        tasks: [
          ...s.tasks,
          { taskId, member, capability, dueAt, tier, status: 'assigned' as const },
        ],
      };
      return openObligation(withTask, {
        kind: 'coalition-ack',
        refId: taskId,
        dueAt,
        status: 'open',
      });
    }
    case 'CoalitionTaskAcknowledged':
    case 'CoalitionTaskDeclined':
    case 'CoalitionTaskCompleted': {
      const status: CoalitionTask['status'] =
        fact.type === 'CoalitionTaskAcknowledged'
          ? 'acknowledged'
          : fact.type === 'CoalitionTaskDeclined'
            ? 'declined'
            : 'completed';
      const tasks = s.tasks.map((t) => (t.taskId === fact.data.taskId ? { ...t, status } : t));
      return satisfy({ ...s, tasks }, 'coalition-ack', fact, fact.data.taskId);
    }
    case 'WesternResponseActivated':
      return satisfy(s, 'western-response', fact);
    case 'DecisionRecorded':
      return {
        ...s,
        decisions: [...s.decisions, { eventId: fact.id, decision: fact.data.decision }],
      };
    case 'DeadlineMissed':
      return {
        ...s,
        obligations: s.obligations.map((o) =>
          o.kind === fact.data.obligation && o.refId === fact.data.refId && o.status === 'open'
            ? {
                ...o,
                status: 'missed',
                missedAt: fact.occurredAt,
                missedRecordedAt: fact.recordedAt,
              }
            : o,
        ),
      };
    case 'IncidentResolved':
      return {
        ...s,
        status: 'resolved',
        obligations: s.obligations.map((o) =>
          o.status === 'open' ? { ...o, status: 'closed' } : o,
        ),
      };
    // States stored before receipts existed lack the list: start one.
    case 'NoticeAcknowledged':
      return {
        ...s,
        acknowledgements: [
          ...(s.acknowledgements ?? []),
          { partner: fact.data.partner, eventId: fact.data.eventId, at: fact.occurredAt },
        ],
      };
    case 'ResponseActionReported':
    case 'NotificationDelivered':
      return s;
    default: {
      const unknown: never = fact;
      return unknown;
    }
  }
}
