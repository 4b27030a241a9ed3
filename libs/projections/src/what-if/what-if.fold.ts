import {
  Actor,
  COALITION_TASKING_CAUSES,
  decideIncident,
  DecidedEvent,
  decodeIncidentFact,
  EscalationPolicy,
  evolveIncident,
  HOUR_MS,
  IllegalStateError,
  IncidentCommand,
  IncidentFact,
  incidentIdOf,
  incidentStreamId,
  IncidentState,
  initialIncidentState,
  nextDueAt,
  Iso,
  NotFoundError,
  ObligationKind,
  PolicyLookup,
  SectorConfirmation,
  StoredEvent,
  VERIFICATION_CAUSES,
} from '@truceline/domain';
import { deterministicId } from '@truceline/event-store';

/** A DeadlineMissed of one side: recorded in the log, or due by the end of history. */
export interface MissedDeadline {
  obligation: ObligationKind;
  refId?: string;
  dueAt: Iso;
  /**
   * Live: false when the obligation was past due at the end of history but no DeadlineMissed
   * was recorded yet (the scheduler was not running). What-if: always false, nothing is stored.
   */
  recorded: boolean;
}

/** One incident as one side of the comparison sees it. */
export interface IncidentHistory {
  state: IncidentState;
  deadlinesMissed: MissedDeadline[];
}

export interface WhatIfIncident {
  incidentId: string;
  live: IncidentHistory;
  whatIf: IncidentHistory;
}

export interface WhatIfResult {
  /** The end of history both sides were judged at. */
  historyEnd: Iso;
  /** Incident events folded. */
  events: number;
  incidents: WhatIfIncident[];
}

/** The services of the what-if world act as the live ones do: as a service, never a person. */
const WHAT_IF_SERVICE: Actor = { id: 'what-if', role: 'service' };

/**
 * The services' reactions (SPEC §5): each answers the facts it answers live with its system
 * command, and a reaction's own facts are answered in turn (a quorum verdict tasks the coalition
 * when the sector is under repeated violation).
 */
const SERVICES: readonly { causes: ReadonlySet<string>; command: IncidentCommand }[] = [
  { causes: VERIFICATION_CAUSES, command: { type: 'Verify', data: {} } },
  { causes: COALITION_TASKING_CAUSES, command: { type: 'AssignCoalitionTasks', data: {} } },
];

/** How the what-if world takes a recorded fact. */
type Treatment =
  /** What people and partners did: kept as it happened (evolve applies the policy's windows). */
  | { kind: 'replay' }
  /** The live policy's consequence: dropped, and recomputed by the rules under the other one. */
  | { kind: 'recompute' }
  /** An operator's command whose outcome the policy shapes: decided again. */
  | { kind: 'decide'; command: IncidentCommand };

/**
 * The facts the live policy produced: the verification request (roster, window), verdicts by
 * quorum (quorum, repeated violation), coalition tasks (rosters, acknowledgement window) and
 * missed deadlines (every window, and the clock). An override verdict is the operator's, but its
 * repeated-violation evidence is the policy's, and the what-if verification may have closed
 * before it: it is decided again.
 */
function treatmentOf(fact: IncidentFact): Treatment {
  switch (fact.type) {
    case 'VerificationRequested':
    case 'CoalitionTaskAssigned':
    case 'DeadlineMissed':
      return { kind: 'recompute' };
    case 'BreachConfirmed':
    case 'BreachRejected': {
      if (fact.data.basis === 'quorum') return { kind: 'recompute' };
      const verdict = fact.type === 'BreachConfirmed' ? 'confirmed' : 'rejected';
      return {
        kind: 'decide',
        command: { type: 'OverrideVerdict', data: { verdict, reason: fact.data.reason ?? '' } },
      };
    }
    default:
      return { kind: 'replay' };
  }
}

const later = (a: Iso | null, b: Iso): Iso =>
  a !== null && Date.parse(a) >= Date.parse(b) ? a : b;

/**
 * What-if (SPEC §9 `replay --policy`): folds the whole log twice, side by side — as it was, under
 * the policy versions each event was appended under, and as it would have been had `policy`
 * governed it all. Pure: no store, no clock; the caller feeds events in position order and
 * names the end of history (the store's clock). The what-if side runs the real rules: evolve,
 * and decide for every system command the services and the deadline scheduler would have sent,
 * with the ids the live services derive (so an acknowledgement still finds its task).
 */
export class WhatIfFold {
  private readonly incidents = new Map<string, WhatIfIncident>();
  /** The store's clock as the log shows it: the latest recordedAt folded. */
  private clock: Iso | null = null;
  private events = 0;
  /** Incidents confirmed in the what-if world, by sector: their reports' occurredAt. */
  private readonly confirmedBySector = new Map<string, Map<string, Iso>>();

  constructor(
    private readonly policy: EscalationPolicy,
    private readonly livePolicyOf: PolicyLookup,
  ) {}

  /** Folds one stored event; anything but an incident fact (the policy stream) is skipped. */
  apply(stored: StoredEvent): void {
    const fact = decodeIncidentFact(stored);
    const incidentId = fact && incidentIdOf(fact.streamId);
    if (!fact || !incidentId) return;
    this.events++;
    this.clock = later(this.clock, fact.recordedAt);
    const incident = this.incident(incidentId);
    incident.live.state = evolveIncident(incident.live.state, fact, this.livePolicyOf);
    if (fact.type === 'DeadlineMissed')
      incident.live.deadlinesMissed.push({ ...fact.data, recorded: true });
    this.applyWhatIf(incident, fact);
  }

  /**
   * Judges both sides at `historyEnd` (never before the last recordedAt folded): an obligation
   * still open and past due there counts as missed — on the live side too, so a scheduler that
   * was not running makes no difference appear. Called once, after the last event.
   */
  finish(historyEnd: Iso): WhatIfResult {
    const end = later(this.clock, historyEnd);
    const incidents = [...this.incidents.values()].map((incident) => {
      this.scheduler(incident, end);
      return { ...incident, live: this.liveAt(incident, end) };
    });
    return { historyEnd: end, events: this.events, incidents };
  }

  /** The live side at the end of history, with the misses the scheduler had yet to record. */
  private liveAt(incident: WhatIfIncident, end: Iso): IncidentHistory {
    const { state, deadlinesMissed } = incident.live;
    const cause = this.tick(end);
    const pending = this.decided(
      state,
      { type: 'RecordMissedDeadlines', data: { now: end } },
      cause,
    );
    return {
      state: pending.reduce(
        (s, event) => evolveIncident(s, this.factOf(incident, event, cause), this.livePolicyOf),
        state,
      ),
      deadlinesMissed: [
        ...deadlinesMissed,
        ...pending.flatMap((e) =>
          e.type === 'DeadlineMissed' ? [{ ...e.data, recorded: false }] : [],
        ),
      ],
    };
  }

  private incident(incidentId: string): WhatIfIncident {
    let incident = this.incidents.get(incidentId);
    if (!incident) {
      incident = {
        incidentId,
        live: { state: initialIncidentState(), deadlinesMissed: [] },
        whatIf: { state: initialIncidentState(), deadlinesMissed: [] },
      };
      this.incidents.set(incidentId, incident);
    }
    return incident;
  }

  private applyWhatIf(incident: WhatIfIncident, fact: IncidentFact): void {
    // The scheduler runs on the store's clock, which stamped recordedAt: every deadline it had
    // passed when this fact was recorded is missed first (a fact occurring earlier still meets
    // it, recorded late). The fact's own stamp, not the latest seen: streams folded one after
    // the other must not see each other's future.
    this.scheduler(incident, fact.recordedAt);
    const treatment = treatmentOf(fact);
    if (treatment.kind === 'replay') this.evolveWhatIf(incident, this.relabel(fact));
    if (treatment.kind === 'decide') this.decideWhatIf(incident, treatment.command, fact, fact.id);
  }

  /**
   * The deadline scheduler at `now` (SPEC §5): one DeadlineMissed per obligation past due, for
   * an incident the scheduler's query (`nextDueAt` before now) finds.
   */
  private scheduler(incident: WhatIfIncident, now: Iso): void {
    const due = nextDueAt(incident.whatIf.state);
    if (due === null || Date.parse(due) >= Date.parse(now)) return;
    const cause = this.tick(now);
    this.decideWhatIf(incident, { type: 'RecordMissedDeadlines', data: { now } }, cause);
  }

  /** A command decided and folded under the alternative policy; a refusal appends nothing. */
  private decideWhatIf(
    incident: WhatIfIncident,
    command: IncidentCommand,
    cause: Pick<IncidentFact, 'occurredAt' | 'recordedAt' | 'metadata'>,
    id?: string,
  ): void {
    const state = incident.whatIf.state;
    const confirms = command.type === 'Verify' || command.type === 'OverrideVerdict';
    const sector =
      confirms && state.status === 'verifying' ? this.sectorConfirmations(incident) : [];
    const decided = this.decided(state, command, cause, this.policy, sector);
    for (const event of decided) {
      const fact = this.factOf(
        incident,
        { ...event, id: event.id ?? id },
        cause,
        this.policy.version,
      );
      this.evolveWhatIf(incident, fact);
    }
  }

  /** Folds a fact into the what-if world, then lets the services answer it as they would. */
  private evolveWhatIf(incident: WhatIfIncident, fact: IncidentFact): void {
    const state = evolveIncident(incident.whatIf.state, fact, () => this.policy);
    incident.whatIf.state = state;
    if (fact.type === 'BreachConfirmed' && state.firstViolationAt !== null) {
      const confirmed = this.confirmedBySector.get(state.sector) ?? new Map<string, Iso>();
      this.confirmedBySector.set(
        state.sector,
        confirmed.set(incident.incidentId, state.firstViolationAt),
      );
    }
    if (fact.type === 'DeadlineMissed')
      incident.whatIf.deadlinesMissed.push({ ...fact.data, recorded: false });
    for (const service of SERVICES)
      if (service.causes.has(fact.type)) this.decideWhatIf(incident, service.command, fact);
  }

  /** decide, as the command path runs it for a service: a refusal is an expected outcome. */
  private decided(
    state: IncidentState,
    command: IncidentCommand,
    cause: Pick<IncidentFact, 'occurredAt'>,
    policy: EscalationPolicy = this.policy,
    sectorConfirmations: SectorConfirmation[] = [],
  ): DecidedEvent[] {
    try {
      return decideIncident(command, state, {
        actor: WHAT_IF_SERVICE,
        policy,
        occurredAt: cause.occurredAt,
        sectorConfirmations,
        idOf: deterministicId,
      });
    } catch (error) {
      if (error instanceof IllegalStateError || error instanceof NotFoundError) return [];
      throw error;
    }
  }

  /**
   * Other incidents of the sector confirmed in the what-if world whose reports lie within the
   * repeated-violation window of this one: what the live command path asks the incident view.
   */
  private sectorConfirmations(incident: WhatIfIncident): SectorConfirmation[] {
    const { sector, firstViolationAt } = incident.whatIf.state;
    if (firstViolationAt === null) return [];
    const at = Date.parse(firstViolationAt);
    const span = this.policy.repeatedViolation.windowHours * HOUR_MS;
    const confirmed = this.confirmedBySector.get(sector) ?? new Map<string, Iso>();
    return [...confirmed]
      .filter(
        ([incidentId, reportedAt]) =>
          incidentId !== incident.incidentId && Math.abs(Date.parse(reportedAt) - at) <= span,
      )
      .map(([incidentId, reportedAt]) => ({ incidentId, reportedAt }));
  }

  /** A recorded fact as the what-if world holds it: appended under the alternative policy. */
  private relabel(fact: IncidentFact): IncidentFact {
    return { ...fact, metadata: { ...fact.metadata, policyVersion: this.policy.version } };
  }

  /** A decided event as a fact: the reaction carries its cause's occurredAt unless it names one. */
  private factOf(
    incident: WhatIfIncident,
    event: DecidedEvent,
    cause: Pick<IncidentFact, 'occurredAt' | 'recordedAt' | 'metadata'>,
    policyVersion: number = cause.metadata.policyVersion,
  ): IncidentFact {
    const { id, occurredAt, ...decided } = event;
    return {
      ...decided,
      id: id ?? deterministicId(incident.incidentId, 'what-if', event.type, cause.recordedAt),
      streamId: incidentStreamId(incident.incidentId),
      revision: (incident.whatIf.state.revision ?? -1) + 1,
      occurredAt: occurredAt ?? cause.occurredAt,
      recordedAt: cause.recordedAt,
      metadata: { ...cause.metadata, policyVersion, actor: WHAT_IF_SERVICE },
    };
  }

  /** The cause of a scheduler pass: the clock reaching `now`. */
  private tick(now: Iso): Pick<IncidentFact, 'occurredAt' | 'recordedAt' | 'metadata'> {
    return { occurredAt: now, recordedAt: now, metadata: { policyVersion: this.policy.version } };
  }
}
