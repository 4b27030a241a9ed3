import {
  Capability,
  IncidentState,
  Iso,
  Obligation,
  obligationKey,
  ObligationKind,
  PartnerCode,
  Tier,
} from '@truceline/domain';
import { IncidentHistory, MissedDeadline, WhatIfIncident, WhatIfResult } from './what-if.fold';

/** When a tier was reached on each side; null: never. */
export interface TierRow {
  tier: Tier;
  live: Iso | null;
  whatIf: Iso | null;
}

export interface ObligationSide {
  dueAt: Iso;
  status: Obligation['status'];
  satisfiedAt?: Iso;
  /** Met by a fact recorded after its DeadlineMissed (SPEC §2). */
  recordedLate?: boolean;
}

/** The task a coalition acknowledgement is owed for. */
export interface TaskLabel {
  tier: 2 | 3;
  member: PartnerCode;
  capability: Capability;
}

export interface ObligationRow {
  obligation: ObligationKind;
  refId?: string;
  task?: TaskLabel;
  /** null: the obligation never opened on that side. */
  live: ObligationSide | null;
  whatIf: ObligationSide | null;
}

export interface DeadlineMissedRow {
  obligation: ObligationKind;
  refId?: string;
  task?: TaskLabel;
  /** recorded: in the log; false: past due at the end of history, not recorded yet. */
  live: { dueAt: Iso; recorded: boolean } | null;
  whatIf: { dueAt: Iso } | null;
}

/**
 * One incident that would have gone otherwise: every tier either side reached, with when (the
 * path of the incident, for context), and only the obligations and missed deadlines that differ.
 */
export interface IncidentDifference {
  incidentId: string;
  sector: string;
  exercise: boolean;
  status: { live: IncidentState['status']; whatIf: IncidentState['status'] };
  tiers: TierRow[];
  obligations: ObligationRow[];
  deadlinesMissed: DeadlineMissedRow[];
}

export interface WhatIfReport {
  historyEnd: Iso;
  events: number;
  incidents: number;
  differing: IncidentDifference[];
}

const sameInstant = (a: Iso | null | undefined, b: Iso | null | undefined): boolean =>
  a === b || (a != null && b != null && Date.parse(a) === Date.parse(b));

const sideOf = (o: Obligation | undefined): ObligationSide | null =>
  o
    ? {
        dueAt: o.dueAt,
        status: o.status,
        ...(o.satisfiedAt !== undefined ? { satisfiedAt: o.satisfiedAt } : {}),
        ...(o.recordedLate ? { recordedLate: true } : {}),
      }
    : null;

const sameSide = (a: ObligationSide | null, b: ObligationSide | null): boolean =>
  a === null || b === null
    ? a === b
    : a.status === b.status &&
      sameInstant(a.dueAt, b.dueAt) &&
      sameInstant(a.satisfiedAt, b.satisfiedAt) &&
      Boolean(a.recordedLate) === Boolean(b.recordedLate);

/** Keys of both sides, in the order the live side has them, then the what-if's new ones. */
const keysOf = <T>(live: T[], whatIf: T[], key: (item: T) => string): string[] => [
  ...new Set([...live.map(key), ...whatIf.map(key)]),
];

function taskLabel(incident: WhatIfIncident, refId: string | undefined): TaskLabel | undefined {
  if (refId === undefined) return undefined;
  const task = [...incident.live.state.tasks, ...incident.whatIf.state.tasks].find(
    (t) => t.taskId === refId,
  );
  return task && { tier: task.tier, member: task.member, capability: task.capability };
}

function tierRows(live: IncidentState, whatIf: IncidentState): TierRow[] {
  const at = (state: IncidentState, tier: Tier) =>
    state.tierHistory.find((h) => h.tier === tier)?.at ?? null;
  return ([0, 1, 2, 3] as const)
    .map((tier) => ({ tier, live: at(live, tier), whatIf: at(whatIf, tier) }))
    .filter((row) => row.live !== null || row.whatIf !== null);
}

export const tierDiffers = (row: TierRow): boolean => !sameInstant(row.live, row.whatIf);

function obligationRows(incident: WhatIfIncident): ObligationRow[] {
  const live = incident.live.state.obligations;
  const whatIf = incident.whatIf.state.obligations;
  return keysOf(live, whatIf, obligationKey).flatMap((key) => {
    const a = live.find((o) => obligationKey(o) === key);
    const b = whatIf.find((o) => obligationKey(o) === key);
    const row = { live: sideOf(a), whatIf: sideOf(b) };
    if (sameSide(row.live, row.whatIf)) return [];
    const { kind, refId } = (a ?? b) as Obligation;
    const task = taskLabel(incident, refId);
    return [{ obligation: kind, ...(refId ? { refId } : {}), ...(task ? { task } : {}), ...row }];
  });
}

function deadlineRows(incident: WhatIfIncident): DeadlineMissedRow[] {
  const missed = (side: IncidentHistory) => side.deadlinesMissed;
  const live = missed(incident.live);
  const whatIf = missed(incident.whatIf);
  const keyOf = (m: MissedDeadline) => obligationKey({ kind: m.obligation, refId: m.refId });
  return keysOf(live, whatIf, keyOf).flatMap((key) => {
    const a = live.find((m) => keyOf(m) === key);
    const b = whatIf.find((m) => keyOf(m) === key);
    if (a && b && sameInstant(a.dueAt, b.dueAt)) return [];
    const { obligation, refId } = (a ?? b) as NonNullable<typeof a>;
    const task = taskLabel(incident, refId);
    return [
      {
        obligation,
        ...(refId ? { refId } : {}),
        ...(task ? { task } : {}),
        live: a ? { dueAt: a.dueAt, recorded: a.recorded } : null,
        whatIf: b ? { dueAt: b.dueAt } : null,
      },
    ];
  });
}

/**
 * The incidents whose tiers, obligations or missed deadlines would have differed, each with
 * its tiers and the obligation and deadline rows that differ (SPEC §9 `replay --policy FILE --diff`).
 */
export function diffWhatIf(result: WhatIfResult): WhatIfReport {
  const differing = result.incidents.flatMap((incident): IncidentDifference[] => {
    const { live, whatIf } = incident;
    const difference: IncidentDifference = {
      incidentId: incident.incidentId,
      sector: live.state.sector,
      exercise: live.state.exercise || whatIf.state.exercise,
      status: { live: live.state.status, whatIf: whatIf.state.status },
      tiers: tierRows(live.state, whatIf.state),
      obligations: obligationRows(incident),
      deadlinesMissed: deadlineRows(incident),
    };
    const differs =
      difference.status.live !== difference.status.whatIf ||
      difference.tiers.some(tierDiffers) ||
      difference.obligations.length + difference.deadlinesMissed.length > 0;
    return differs ? [difference] : [];
  });
  return {
    historyEnd: result.historyEnd,
    events: result.events,
    incidents: result.incidents.length,
    differing,
  };
}
