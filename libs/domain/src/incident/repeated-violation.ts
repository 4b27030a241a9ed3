import { addHours, EscalationPolicy } from '../policy/policy';
import { IncidentState } from './state';

export interface SectorConfirmation {
  incidentId: string;
  /** occurredAt of that incident's report. */
  reportedAt: string;
}

/**
 * SPEC §3: the sector is under repeated violation when `confirmedBreaches` confirmed breaches
 * (counting the one being confirmed) have reports whose occurredAt lie within `windowHours`
 * of each other. Returns the other incidents of the densest such window, or null.
 */
export function repeatedViolation(
  state: IncidentState,
  others: SectorConfirmation[],
  policy: EscalationPolicy,
): { sector: string; windowHours: number; incidentIds: string[] } | null {
  const { confirmedBreaches, windowHours } = policy.repeatedViolation;
  if (!state.firstViolationAt) return null;
  const t = Date.parse(state.firstViolationAt);
  const span = Date.parse(addHours(state.firstViolationAt, windowHours)) - t;
  const candidates = others
    .filter(
      (o) => o.incidentId !== state.incidentId && Math.abs(Date.parse(o.reportedAt) - t) <= span,
    )
    .sort((a, b) => Date.parse(a.reportedAt) - Date.parse(b.reportedAt));
  // Every window of length `span` holding this report starts at one of these instants.
  const starts = [t - span, t, ...candidates.map((c) => Date.parse(c.reportedAt))].filter(
    (s) => s <= t,
  );
  let best: SectorConfirmation[] = [];
  for (const start of starts) {
    const inside = candidates.filter((c) => {
      const at = Date.parse(c.reportedAt);
      return at >= start && at <= start + span;
    });
    if (inside.length > best.length) best = inside;
  }
  if (best.length + 1 < confirmedBreaches) return null;
  return { sector: state.sector, windowHours, incidentIds: best.map((c) => c.incidentId) };
}
