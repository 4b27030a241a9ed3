import { IncidentEvent } from '../events/events';
import { IncidentState, obligationKey } from '../incident/state';

/**
 * The deadline scheduler's rule (SPEC §5): every obligation still open when the clock has passed
 * its dueAt yields one DeadlineMissed, occurring at the dueAt. The caller derives the event id
 * from the obligation key, so a second scheduler or a restart can never add another. Only
 * reached through decide's `RecordMissedDeadlines`, which refuses it once resolved.
 */
export function missedDeadlines(
  state: IncidentState,
  now: Date,
): { key: string; dueAt: string; event: IncidentEvent }[] {
  return state.obligations
    .filter((o) => o.status === 'open' && Date.parse(o.dueAt) < now.getTime())
    .map((o) => ({
      key: obligationKey(o),
      dueAt: o.dueAt,
      event: {
        type: 'DeadlineMissed',
        data: { obligation: o.kind, dueAt: o.dueAt, ...(o.refId ? { refId: o.refId } : {}) },
      },
    }));
}

/** The earliest dueAt among open obligations: when the scheduler must look at this incident again. */
export function nextDueAt(state: IncidentState): string | null {
  if (state.status === 'resolved') return null;
  const open = state.obligations.filter((o) => o.status === 'open').map((o) => Date.parse(o.dueAt));
  return open.length ? new Date(Math.min(...open)).toISOString() : null;
}
