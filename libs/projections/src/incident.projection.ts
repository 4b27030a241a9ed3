import {
  decodeIncidentFact,
  evolveIncident,
  incidentIdOf,
  IncidentState,
  initialIncidentState,
  nextDueAt,
  StoredEvent,
} from '@truceline/domain';
import { createTable, SqlClient, TableDefinition } from '@truceline/event-store';
import { PolicyRegistry } from './policy.registry';
import { Projection, ProjectionDefinition, resetProjection } from './projection';

/** The columns of incident_view, in the order the batched upsert names them. */
const VIEW_ROW = `incident_id text, created_position bigint, position bigint, revision int, sector text,
  status text, tier int, first_violation_at timestamptz, confirmed_at timestamptz,
  next_due_at timestamptz, exercise boolean, state jsonb`;

interface ViewRow {
  created: number;
  position: number;
  state: IncidentState;
}

/**
 * The incident read model behind GET /v1/incidents/{id}: the incident state folded from its
 * stream, one row per incident. Each row stores the global position it applied, so a
 * redelivered event is skipped (idempotent) and a projection never rejects a fact.
 *
 * A batch is applied in one transaction: the rows of the incidents it touches are read once
 * (locked), folded in memory, and written back in one statement, one row per incident.
 */
export class IncidentProjection implements Projection {
  constructor(
    private readonly sql: SqlClient,
    private readonly policies: PolicyRegistry,
  ) {}

  apply(event: StoredEvent): Promise<void> {
    return this.applyBatch([event]);
  }

  async applyBatch(events: readonly StoredEvent[]): Promise<void> {
    const ids = new Set<string>();
    for (const event of events) {
      const incidentId = incidentIdOf(event.streamId);
      if (incidentId) ids.add(incidentId);
    }
    if (ids.size === 0) {
      for (const event of events) this.policies.apply(event);
      return;
    }
    await this.sql.transaction(async (tx) => {
      const { rows } = await tx.query<{
        incident_id: string;
        created_position: string | number;
        position: string | number;
        state: IncidentState;
      }>(
        `SELECT incident_id, created_position, position, state FROM incident_view
          WHERE incident_id = ANY($1::text[]) ORDER BY incident_id FOR UPDATE`,
        [[...ids]],
      );
      const views = new Map<string, ViewRow>(
        rows.map((row) => [
          row.incident_id,
          {
            created: Number(row.created_position),
            position: Number(row.position),
            state: row.state,
          },
        ]),
      );
      const changed = new Set<string>();
      for (const event of events) {
        // Policies adopted on the log are learnt in log order, before the events they govern.
        this.policies.apply(event);
        const incidentId = incidentIdOf(event.streamId);
        const fact = incidentId ? decodeIncidentFact(event) : null;
        if (!incidentId || !fact) continue;
        const view = views.get(incidentId);
        if (view && view.position >= event.position) continue;
        const state = evolveIncident(
          view ? view.state : initialIncidentState(),
          fact,
          this.policies.of,
        );
        views.set(incidentId, {
          created: view ? view.created : event.position,
          position: event.position,
          state,
        });
        changed.add(incidentId);
      }
      if (changed.size === 0) return;
      const records = [...changed].map((incidentId) => {
        const { created, position, state } = views.get(incidentId) as ViewRow;
        return {
          incident_id: incidentId,
          created_position: created,
          position,
          revision: state.revision ?? 0,
          sector: state.sector,
          status: state.status,
          tier: state.tier ?? 0,
          first_violation_at: state.firstViolationAt,
          confirmed_at: state.confirmedAt,
          next_due_at: nextDueAt(state),
          exercise: state.exercise,
          state,
        };
      });
      await tx.query(
        `INSERT INTO incident_view (incident_id, created_position, position, revision, sector, status, tier,
           first_violation_at, confirmed_at, next_due_at, exercise, state)
         SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(${VIEW_ROW})
         ON CONFLICT (incident_id) DO UPDATE SET position = EXCLUDED.position,
           revision = EXCLUDED.revision, sector = EXCLUDED.sector, status = EXCLUDED.status,
           tier = EXCLUDED.tier, first_violation_at = EXCLUDED.first_violation_at,
           confirmed_at = EXCLUDED.confirmed_at, next_due_at = EXCLUDED.next_due_at,
           exercise = EXCLUDED.exercise, state = EXCLUDED.state`,
        [JSON.stringify(records)],
      );
    });
  }

  /** Drops the read model so it can be rebuilt from position 0. */
  reset(): Promise<void> {
    return resetProjection(this.sql, INCIDENTS);
  }
}

/** One row per incident: the folded state, and the fields the lists filter and sort on. */
const INCIDENT_VIEW: TableDefinition = {
  name: 'incident_view',
  columns: {
    incident_id: 'text PRIMARY KEY',
    created_position: 'bigint NOT NULL',
    position: 'bigint NOT NULL',
    revision: 'int NOT NULL',
    sector: 'text NOT NULL',
    status: 'text NOT NULL',
    tier: 'int NOT NULL',
    first_violation_at: 'timestamptz',
    confirmed_at: 'timestamptz',
    next_due_at: 'timestamptz',
    exercise: 'boolean NOT NULL DEFAULT false',
    state: 'jsonb NOT NULL',
  },
};

const MIGRATIONS = [
  createTable(INCIDENT_VIEW),
  `CREATE INDEX IF NOT EXISTS incident_view_due ON incident_view (next_due_at) WHERE next_due_at IS NOT NULL`,
  `CREATE INDEX IF NOT EXISTS incident_view_sector ON incident_view (sector, confirmed_at)`,
  `CREATE INDEX IF NOT EXISTS incident_view_created ON incident_view (created_position)`,
];

/** The incident read model, declared once. */
export const INCIDENTS: ProjectionDefinition<IncidentProjection> = {
  name: 'incidents',
  // Bump when the fold or a table changes: a new version is rebuilt from the log.
  version: 2,
  tables: [INCIDENT_VIEW.name],
  migrations: MIGRATIONS,
  create: (sql, policies) => new IncidentProjection(sql, policies),
};
