import type { IncidentAudit } from '@truceline/projections';

export type DeadlineMark = 'met' | 'missed' | 'met-late' | 'open' | 'closed';

/** What the report's chart draws, in epoch milliseconds, computed here so it can be tested. */
export interface ChartModel {
  /** Tier steps; the last one repeated at the end so the line reaches the right edge. */
  tiers: { x: number; tier: number }[];
  deadlines: { x: number; status: DeadlineMark; label: string }[];
  decisions: { x: number; label: string }[];
  late: { occurred: number; recorded: number; label: string }[];
  range: { min: number; max: number; stepHours: number };
}

const HOUR = 3_600_000;
const STEPS = [1, 2, 3, 6, 12, 24, 48, 96, 168, 336, 720];
const ms = (iso: string): number => Date.parse(iso);

const hoursLate = (occurred: number, recorded: number): string => {
  const hours = (recorded - occurred) / HOUR;
  return hours >= 1
    ? `${Math.round(hours * 10) / 10} h late`
    : `${Math.round(hours * 60)} min late`;
};

/**
 * The timeline chart of an audit: tier over occurredAt, each obligation's deadline marked met,
 * missed, met but recorded late, or still open, each decision, and each fact recorded late as a
 * bar from when it occurred to when it became known.
 */
export function chartModel(audit: IncidentAudit): ChartModel {
  const deadlines = audit.obligations.map((o) => ({
    x: ms(o.dueAt),
    status: (o.status === 'met' && (o.recordedLate || o.missed)
      ? 'met-late'
      : o.status) as DeadlineMark,
    label: o.refId ? `${o.kind} ${o.refId}` : o.kind,
  }));
  const decisions = audit.decisions.map((d) => ({ x: ms(d.at), label: d.decision }));
  const late = audit.timeline
    .filter((e) => e.recordedLate)
    .map((e) => ({
      occurred: ms(e.occurredAt),
      recorded: ms(e.recordedAt),
      label: `${e.type}, ${hoursLate(ms(e.occurredAt), ms(e.recordedAt))}`,
    }));
  const instants = [
    ...audit.timeline.map((e) => ms(e.occurredAt)),
    ...deadlines.map((d) => d.x),
    ...late.map((l) => l.recorded),
  ];
  const first = Math.min(...instants);
  const last = Math.max(...instants);
  const span = Math.max(last - first, HOUR);
  const stepHours = STEPS.find((step) => span / (step * HOUR) <= 10) ?? STEPS[STEPS.length - 1];
  const step = stepHours * HOUR;
  const min = Math.floor(first / step) * step;
  // Room on the right for the labels of the last markers.
  const max = Math.ceil((last + span * 0.12) / step) * step;
  const tiers = audit.tierChanges.map((change) => ({ x: ms(change.at), tier: change.tier }));
  const top = tiers[tiers.length - 1];
  if (top) tiers.push({ x: max, tier: top.tier });
  return { tiers, deadlines, decisions, late, range: { min, max, stepHours } };
}
