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

/**
 * The incident read model behind GET /v1/incidents/{id}: the incident state folded from its
 * stream, one row per incident. Each row stores the global position it applied, so a
 * redelivered event is skipped (idempotent) and a projection never rejects a fact.
 */
export class IncidentProjection implements Projection {
  constructor(
    private readonly sql: SqlClient,
    private readonly policies: PolicyRegistry,
  ) {}

  async apply(event: StoredEvent): Promise<void> {
    this.policies.apply(event);
    const incidentId = incidentIdOf(event.streamId);
    const fact = incidentId ? decodeIncidentFact(event) : null;
    if (!incidentId || !fact) return;
    await this.sql.transaction(async (tx) => {
      const { rows } = await tx.query<{ position: string | number; state: IncidentState }>(
        'SELECT position, state FROM incident_view WHERE incident_id = $1 FOR UPDATE',
        [incidentId],
      );
      const row = rows[0];
      if (row && Number(row.position) >= event.position) return;
      const state = evolveIncident(
        row ? row.state : initialIncidentState(),
        fact,
        this.policies.of,
      );
      await tx.query(
        `INSERT INTO incident_view (incident_id, created_position, position, revision, sector, status, tier,
           first_violation_at, confirmed_at, next_due_at, exercise, state)
         VALUES ($1, $2, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (incident_id) DO UPDATE SET position = $2, revision = $3, sector = $4, status = $5,
           tier = $6, first_violation_at = $7, confirmed_at = $8, next_due_at = $9, exercise = $10, state = $11`,
        [
          incidentId,
          event.position,
          state.revision ?? 0,
          state.sector,
          state.status,
          state.tier ?? 0,
          state.firstViolationAt,
          state.confirmedAt,
          nextDueAt(state),
          state.exercise,
          JSON.stringify(state),
        ],
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
