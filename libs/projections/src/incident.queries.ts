import { IncidentState, Iso, SectorConfirmation, ValidationError } from '@truceline/domain';
import { SqlClient } from '@truceline/event-store';
import { IncidentListFilter, IncidentPage, IncidentView } from './incident-view';

const iso = (v: unknown): Iso =>
  v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString();

/** Shapes the stored state into the body of SPEC §6, with the receipts of notices. */
export function toView(state: IncidentState): IncidentView {
  return {
    incidentId: state.incidentId ?? '',
    status: state.status === 'none' ? 'verifying' : state.status,
    tier: state.tier ?? 0,
    sector: state.sector,
    revision: state.revision ?? 0,
    firstViolationAt: state.firstViolationAt ?? '',
    exercise: state.exercise,
    tierHistory: state.tierHistory.map((h) => ({ ...h })),
    obligations: state.obligations.map((o) => ({
      kind: o.kind,
      dueAt: o.dueAt,
      status: o.status,
      ...(o.satisfiedAt ? { satisfiedAt: o.satisfiedAt } : {}),
      ...(o.missedAt ? { missedAt: o.missedAt } : {}),
      ...(o.refId ? { refId: o.refId } : {}),
      ...(o.recordedLate ? { recordedLate: true } : {}),
    })),
    coalitionTasks: state.tasks.map((t) => ({ ...t })),
    // Receipts only once there are any: an incident without them keeps the exact body
    // of SPEC §6, which clients and the API's tests hold to.
    ...(state.acknowledgements?.length
      ? { acknowledgements: state.acknowledgements.map((a) => ({ ...a })) }
      : {}),
  };
}

/**
 * toView of a state read back from incident_view, its items' keys in the order GET has always
 * answered with: PostgreSQL's jsonb order (shortest keys first, then bytewise), from when the
 * state was stored as jsonb. The text stored now keeps the order the fold gave (which the audit
 * trail, folding in memory, answers with): a client comparing bodies byte for byte sees the
 * same answers as before.
 */
export function storedView(state: IncidentState): IncidentView {
  const view = toView(state);
  return {
    ...view,
    tierHistory: view.tierHistory.map((h) => ({
      at: h.at,
      tier: h.tier,
      causedBy: h.causedBy,
      recordedAt: h.recordedAt,
      policyVersion: h.policyVersion,
    })),
    coalitionTasks: view.coalitionTasks.map((t) => ({
      tier: t.tier,
      dueAt: t.dueAt,
      member: t.member,
      status: t.status,
      taskId: t.taskId,
      capability: t.capability,
    })),
    ...(view.acknowledgements
      ? {
          acknowledgements: view.acknowledgements.map((a) => ({
            at: a.at,
            eventId: a.eventId,
            partner: a.partner,
          })),
        }
      : {}),
  };
}

/** A state as incident_view stores it: the JSON text JSON.stringify printed. */
export const parseState = (stored: string): IncidentState => JSON.parse(stored) as IncidentState;

export const MAX_PAGE = 200;

/** Reads of the incident read model. */
export class IncidentViews {
  constructor(private readonly sql: SqlClient) {}

  async state(incidentId: string): Promise<IncidentState | null> {
    const { rows } = await this.sql.query<{ state: string }>(
      'SELECT state FROM incident_view WHERE incident_id = $1',
      [incidentId],
      // A lookup by the primary key, GET's one statement: planning it on every call cost the
      // server more than running it.
      { prepare: true },
    );
    return rows.length > 0 ? parseState(rows[0].state) : null;
  }

  async get(incidentId: string): Promise<IncidentView | null> {
    const state = await this.state(incidentId);
    return state ? storedView(state) : null;
  }

  /** Paged by the position of each incident's report; the cursor is opaque to clients. */
  async list(filter: IncidentListFilter): Promise<IncidentPage> {
    const limit = Math.min(Math.max(filter.limit ?? 50, 1), MAX_PAGE);
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (clause: string, value: unknown) => {
      params.push(value);
      where.push(clause.replace('?', `$${params.length}`));
    };
    if (filter.tier !== undefined) add('tier = ?', filter.tier);
    if (filter.status) add('status = ?', filter.status);
    if (filter.sector) add('sector = ?', filter.sector);
    if (filter.cursor) add('created_position > ?', decodeCursor(filter.cursor));
    params.push(limit + 1);
    const { rows } = await this.sql.query<{
      incident_id: string;
      status: IncidentView['status'];
      tier: number;
      sector: string;
      first_violation_at: unknown;
      revision: number;
      exercise: boolean;
      created_position: string | number;
    }>(
      `SELECT incident_id, status, tier, sector, first_violation_at, revision, exercise, created_position
         FROM incident_view ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY created_position LIMIT $${params.length}`,
      params,
    );
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map((r) => ({
        incidentId: r.incident_id,
        status: r.status,
        tier: r.tier,
        sector: r.sector,
        firstViolationAt: iso(r.first_violation_at),
        revision: r.revision,
        exercise: r.exercise === true,
      })),
      nextCursor: rows.length > limit && last ? encodeCursor(Number(last.created_position)) : null,
    };
  }

  /** Incidents with an open obligation due before `now`: the deadline scheduler's work list. */
  async dueBefore(now: Date, limit = 500): Promise<string[]> {
    const { rows } = await this.sql.query<{ incident_id: string }>(
      'SELECT incident_id FROM incident_view WHERE next_due_at < $1 ORDER BY next_due_at LIMIT $2',
      [now.toISOString(), limit],
    );
    return rows.map((r) => r.incident_id);
  }

  /** Confirmed breaches of a sector with reports around `at` (repeated-violation rule, SPEC §3). */
  async sectorConfirmations(
    sector: string,
    at: Iso,
    windowHours: number,
  ): Promise<SectorConfirmation[]> {
    const { rows } = await this.sql.query<{ incident_id: string; first_violation_at: unknown }>(
      `SELECT incident_id, first_violation_at FROM incident_view
        WHERE sector = $1 AND confirmed_at IS NOT NULL
          AND first_violation_at BETWEEN $2::timestamptz - make_interval(hours => $3)
                                     AND $2::timestamptz + make_interval(hours => $3)`,
      [sector, at, windowHours],
    );
    return rows.map((r) => ({ incidentId: r.incident_id, reportedAt: iso(r.first_violation_at) }));
  }
}

/**
 * `p<position>`: the position of the last incident's report. Clients treat it as opaque; its
 * pattern is in the OpenAPI document, so a generated client can tell a cursor from garbage.
 */
export function encodeCursor(position: number): string {
  return `p${position}`;
}

export function decodeCursor(cursor: string): number {
  const match = /^p([0-9]{1,15})$/.exec(cursor);
  if (!match)
    throw new ValidationError('invalid cursor', [
      { field: 'cursor', message: 'cursor is not one this API returned' },
    ]);
  return Number(match[1]);
}
