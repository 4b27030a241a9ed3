import { FEEDS } from './feed.projection';
import { INCIDENTS } from './incident.projection';
import { SqlClient } from '@truceline/event-store';
import { checkpointOf, migrateProjection, ProjectionDefinition } from './projection';

/** Every projection, in the order a runner starts them (and the coming replay rebuilds them). */
export const PROJECTIONS: readonly ProjectionDefinition[] = [INCIDENTS, FEEDS];

export const INCIDENT_PROJECTION = checkpointOf(INCIDENTS);

/** The tables of one projection, for a process that reads them before its runner started. */
export const migrateIncidentView = (sql: SqlClient): Promise<void> =>
  migrateProjection(sql, INCIDENTS);
export const migratePartnerFeed = (sql: SqlClient): Promise<void> => migrateProjection(sql, FEEDS);
