import {
  decodeIncidentFact,
  Actor,
  Decision,
  evolveIncident,
  IncidentFact,
  IncidentState,
  initialIncidentState,
  isReleasable,
  Iso,
  NOTIFICATION_SUBJECTS,
  Obligation,
  obligationKey,
  ObligationKind,
  PartnerCode,
  PolicyLookup,
  redactFor,
  StoredEvent,
  Tier,
  tierRule,
} from '@truceline/domain';
import { tierNoticeId } from '../feed.projection';
import { IncidentView } from '../incident-view';
import { toView } from '../incident.queries';
import { summarizeEvent } from './event-summary';

/**
 * A fact is recorded late when the log already held an event of the incident that occurred
 * more than this after it: a reading taken in between showed a history without it. The margin
 * is the clock skew SPEC §2 tolerates, so concurrent commands and reactions are not flagged.
 */
export const LATE_MARGIN_MS = 5 * 60_000;

/** Who appended an event. A ministry is not told who, only in which role (and for which partner). */
export interface AuditActor {
  id?: string;
  role: Actor['role'];
  partner?: PartnerCode;
}

export interface AuditTimelineEntry {
  eventId: string;
  type: string;
  occurredAt: Iso;
  recordedAt: Iso;
  recordedLate: boolean;
  actor: AuditActor;
  policyVersion: number;
  summary: string;
}

export interface AuditTierChange {
  tier: Tier;
  at: Iso;
  causedBy: string;
  policyVersion: number;
  /** The SPEC §5 rule that applied. */
  rule: string;
}

export interface AuditDecision {
  eventId: string;
  authority: string;
  decision: Decision;
  rationale: string;
  optionsConsidered?: string[];
  at: Iso;
  recordedAt: Iso;
}

export interface AuditObligation {
  kind: ObligationKind;
  /** Coalition acknowledgements: the task. */
  refId?: string;
  dueAt: Iso;
  status: Obligation['status'];
  satisfiedBy?: { eventId: string; actor: AuditActor; occurredAt: Iso; recordedAt: Iso };
  missed?: { at: Iso; recordedAt: Iso };
  /** Met by an event recorded after the DeadlineMissed (SPEC §2). */
  recordedLate?: boolean;
  /** The version of the event that opened it, which fixed its dueAt (SPEC §3). */
  policyVersion: number;
}

export interface AuditNotification {
  partner: PartnerCode;
  subject: (typeof NOTIFICATION_SUBJECTS)[number];
  tier?: number;
  deliveredAt?: Iso;
  acknowledgedAt?: Iso;
}

/** A signed checkpoint of the log (SPEC §10), as GET /v1/log/checkpoint answers it. */
export interface AuditCheckpoint {
  /** The C2SP signed note. */
  checkpoint: string;
  treeSize: number;
  rootHash: string;
  verifierKey: string;
}

/** The body of `GET /v1/incidents/{id}/audit` (SPEC §6). */
export interface IncidentAudit {
  incidentId: string;
  asOf: Iso;
  exercise: boolean;
  knownAt: IncidentView;
  timeline: AuditTimelineEntry[];
  tierChanges: AuditTierChange[];
  decisions: AuditDecision[];
  obligations: AuditObligation[];
  notifications: AuditNotification[];
  /** The latest signed checkpoint covering every event listed, where the log is sealed. */
  checkpoint?: AuditCheckpoint;
}

export interface AuditOptions {
  /** On the recordedAt clock: only events recorded at or before it are read. */
  asOf: Date;
  policyOf: PolicyLookup;
  /**
   * A ministry's reading: what the need-to-know rules of its feed release to `partner` (SPEC §7),
   * and `view` filters the incident view as its GET /v1/incidents/{id} does.
   */
  viewer?: { partner: PartnerCode; view(view: IncidentView): IncidentView };
}

interface ObligationTrail {
  policyVersion: number;
  satisfiedBy?: AuditObligation['satisfiedBy'];
  missed?: AuditObligation['missed'];
}

/**
 * The audit trail of one incident as it could be known at `asOf`: the stream (in revision
 * order) is folded with the same `evolveIncident` as the read model, and each step is watched
 * for what it opened, met or missed. Null when nothing of the incident was recorded by then,
 * or nothing of it released to the viewer.
 */
export function buildIncidentAudit(
  events: readonly StoredEvent[],
  options: AuditOptions,
): IncidentAudit | null {
  const known = eventsKnownAt(events, options.asOf);
  if (known.length === 0) return null;
  const byId = new Map(known.map((event) => [event.id, event]));
  const viewer = options.viewer;
  const actorOf = (event: StoredEvent): AuditActor => {
    const { id, role, partner } = event.metadata.actor;
    return viewer
      ? { role, ...(partner ? { partner } : {}) }
      : { id, role, ...(partner ? { partner } : {}) };
  };

  let state: IncidentState = initialIncidentState();
  let latestOccurred = -Infinity;
  const timeline: (AuditTimelineEntry & { position: number })[] = [];
  const decisions: AuditDecision[] = [];
  const trails = new Map<string, ObligationTrail>();
  const notices = new Notices(byId);

  for (const event of known) {
    // Decoded as the projections decode it; a fact of no incident type folds nothing.
    const fact = decodeIncidentFact(event);
    if (!fact) continue;
    const before = state;
    state = evolveIncident(state, fact, options.policyOf);
    const occurred = Date.parse(event.occurredAt);
    const recordedLate = occurred + LATE_MARGIN_MS < latestOccurred;
    latestOccurred = Math.max(latestOccurred, occurred);
    followObligations(before, state, fact, actorOf(event), trails);
    notices.apply(state.incidentId ?? '', fact);

    // A task answer is judged against the state that knows the task, as the feed does.
    if (viewer && !isReleasable(event, viewer.partner, state)) continue;
    const data = viewer ? redactFor(event, viewer.partner) : event.data;
    timeline.push({
      position: event.position,
      eventId: event.id,
      type: event.type,
      occurredAt: event.occurredAt,
      recordedAt: event.recordedAt,
      recordedLate,
      actor: actorOf(event),
      policyVersion: event.metadata.policyVersion,
      summary: summarizeEvent({ ...fact, data } as IncidentFact),
    });
    if (fact.type === 'DecisionRecorded') {
      const { authority, decision, rationale, optionsConsidered } = fact.data;
      decisions.push({
        eventId: event.id,
        authority,
        decision,
        rationale,
        ...(optionsConsidered ? { optionsConsidered: [...optionsConsidered] } : {}),
        at: event.occurredAt,
        recordedAt: event.recordedAt,
      });
    }
  }

  // A ministry knows of an incident only through what its feed released to it (SPEC §7).
  if (viewer && timeline.length === 0) return null;
  const full = toView(state);
  const knownAt = viewer ? viewer.view(full) : full;
  const visible = new Set(knownAt.obligations.map((o) => obligationKey(o)));
  return {
    incidentId: knownAt.incidentId,
    asOf: options.asOf.toISOString(),
    exercise: state.exercise,
    knownAt,
    timeline: timeline
      .sort(
        (a, b) => Date.parse(a.occurredAt) - Date.parse(b.occurredAt) || a.position - b.position,
      )
      .map(({ position: _position, ...entry }) => entry),
    tierChanges: state.tierHistory.map((change) => ({
      tier: change.tier,
      at: change.at,
      causedBy: change.causedBy,
      policyVersion: change.policyVersion,
      rule: tierRule(change.tier, byId.get(change.causedBy) ?? { type: 'unknown', data: null }),
    })),
    decisions,
    obligations: state.obligations
      .filter((o) => visible.has(obligationKey(o)))
      .map((o) => auditObligation(o, trails.get(obligationKey(o)))),
    notifications: notices.list(viewer?.partner),
  };
}

/** The events an audit as of `asOf` reads: those recorded at or before it (SPEC §6). */
export function eventsKnownAt(events: readonly StoredEvent[], asOf: Date): StoredEvent[] {
  return events.filter((event) => Date.parse(event.recordedAt) <= asOf.getTime());
}

/** Records, per obligation, the event that opened it and those that met or missed it. */
function followObligations(
  before: IncidentState,
  after: IncidentState,
  fact: IncidentFact,
  actor: AuditActor,
  trails: Map<string, ObligationTrail>,
): void {
  for (const obligation of after.obligations) {
    const key = obligationKey(obligation);
    const previous = before.obligations.find((o) => obligationKey(o) === key);
    const trail = trails.get(key) ?? { policyVersion: fact.metadata.policyVersion };
    trails.set(key, trail);
    if (obligation.status === 'met' && previous?.status !== 'met') {
      trail.satisfiedBy = {
        eventId: fact.id,
        actor,
        occurredAt: fact.occurredAt,
        recordedAt: fact.recordedAt,
      };
    }
  }
  // Every DeadlineMissed is shown, even one the fold ignores because the obligation was met by
  // an event recorded just before it: the log holds both facts, and so does the audit.
  if (fact.type === 'DeadlineMissed') {
    const trail = trails.get(obligationKey({ kind: fact.data.obligation, refId: fact.data.refId }));
    if (trail && !trail.missed) trail.missed = { at: fact.occurredAt, recordedAt: fact.recordedAt };
  }
}

function auditObligation(
  obligation: Obligation,
  trail: ObligationTrail | undefined,
): AuditObligation {
  return {
    kind: obligation.kind,
    ...(obligation.refId ? { refId: obligation.refId } : {}),
    dueAt: obligation.dueAt,
    status: obligation.status,
    ...(trail?.satisfiedBy ? { satisfiedBy: trail.satisfiedBy } : {}),
    ...(trail?.missed ? { missed: trail.missed } : {}),
    ...(obligation.recordedLate ? { recordedLate: true } : {}),
    policyVersion: trail?.policyVersion ?? 1,
  };
}

/**
 * Notices per (partner, subject, what about): when each was delivered (NotificationDelivered)
 * and acknowledged (NoticeAcknowledged). A delivery names the tier, or through its causation
 * the task or warning event; a receipt names the feed entry: a tier notice or that event.
 */
class Notices {
  private readonly entries = new Map<string, AuditNotification>();

  constructor(private readonly byId: ReadonlyMap<string, StoredEvent>) {}

  apply(incidentId: string, fact: IncidentFact): void {
    if (fact.type === 'NotificationDelivered') {
      const { partner, subject, tier } = fact.data;
      const about =
        subject === 'tier-change' ? `tier:${tier}` : `event:${fact.metadata.causationId}`;
      const entry = this.entry(partner, subject, about, tier);
      entry.deliveredAt ??= fact.occurredAt;
    } else if (fact.type === 'NoticeAcknowledged') {
      const notice = this.noticeOf(incidentId, fact.data.eventId);
      if (!notice) return;
      const entry = this.entry(fact.data.partner, notice.subject, notice.about, notice.tier);
      entry.acknowledgedAt ??= fact.occurredAt;
    }
  }

  list(partner?: PartnerCode): AuditNotification[] {
    const all = [...this.entries.values()].map((entry) => ({ ...entry }));
    // A partner's receipts and deliveries are its own business (as in its incident view).
    return partner ? all.filter((entry) => entry.partner === partner) : all;
  }

  private noticeOf(
    incidentId: string,
    eventId: string,
  ): { subject: AuditNotification['subject']; about: string; tier?: number } | null {
    for (const tier of [0, 1, 2, 3]) {
      if (tierNoticeId(incidentId, tier) === eventId)
        return { subject: 'tier-change', about: `tier:${tier}`, tier };
    }
    const event = this.byId.get(eventId);
    if (event?.type === 'WarningIssued') return { subject: 'warning', about: `event:${eventId}` };
    if (event?.type === 'CoalitionTaskAssigned') {
      const tier = (event.data as { tier?: number }).tier;
      return {
        subject: 'task',
        about: `event:${eventId}`,
        ...(tier === undefined ? {} : { tier }),
      };
    }
    return null;
  }

  private entry(
    partner: PartnerCode,
    subject: AuditNotification['subject'],
    about: string,
    tier: number | undefined,
  ): AuditNotification {
    const key = `${partner}|${subject}|${about}`;
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { partner, subject, ...(tier === undefined ? {} : { tier }) };
      this.entries.set(key, entry);
    }
    return entry;
  }
}
