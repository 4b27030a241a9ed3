import { StoredEvent } from '@truceline/domain';
import { migrate, SqlClient } from '@truceline/event-store';
import { PolicyRegistry } from './policy.registry';

/** A read model kept from the log: it never rejects a fact, and it can start over. */
export interface Projection {
  /** Applies one event; idempotent (a redelivered event changes nothing). */
  apply(event: StoredEvent): Promise<void>;
  /**
   * Applies events given in position order in one transaction: all of them or none. The same
   * result as applying them one by one (and idempotent like apply), with the writes of the read
   * model grouped — the live runner and a rebuild both feed it whole pages of the log.
   */
  applyBatch(events: readonly StoredEvent[]): Promise<void>;
  /** Empties its tables so it can be rebuilt from position 0. */
  reset(): Promise<void>;
}

/**
 * Loads a projection's tables from the log from the start (a rebuild into tables of its own,
 * which nothing else writes): the same rows as applyBatch page after page would leave, written
 * fewer times — rows are kept in memory across pages and written in large batches.
 */
export interface ProjectionLoader {
  /** Folds the next page of the log (position order, continuing the last one). */
  load(events: readonly StoredEvent[]): Promise<void>;
  /** Writes everything still held; the tables are then complete up to the last page loaded. */
  finish(): Promise<void>;
}

export interface LoaderOptions {
  /**
   * The tables hold no row this loader will need (fresh tables, or only rows of other streams
   * when the log is loaded in parts): it reads nothing back before it lets rows go.
   */
  empty?: boolean;
}

/**
 * A projection declared once (Emmett's ProjectionDefinition): its name and version (a new
 * version is a new checkpoint, so the runner rebuilds it from the log), its tables, their
 * migrations, and how to build the handler. Every runner iterates PROJECTIONS.
 */
export interface ProjectionDefinition<P extends Projection = Projection> {
  name: string;
  version: number;
  tables: readonly string[];
  migrations: readonly string[];
  create(sql: SqlClient, policies: PolicyRegistry): P;
  /** A faster way to fill its tables in a rebuild; without one, pages go through applyBatch. */
  loader?(sql: SqlClient, policies: PolicyRegistry, options?: LoaderOptions): ProjectionLoader;
  /**
   * Declared when each row depends only on the events of one stream and of the `everyPart`
   * streams: a rebuild may then load the log in parts split by stream, at once in worker
   * threads, each part reading its streams' events and every `everyPart` event, in log order.
   */
  splitByStream?: { everyPart: readonly string[] };
  /**
   * Secondary indexes (by name) its writes look rows up by: a rebuild keeps them while it loads,
   * where it builds the others once at the end.
   */
  loadIndexes?: readonly string[];
}

/** The durable subscription a projection's runner keeps its checkpoint under. */
export const checkpointOf = (definition: Pick<ProjectionDefinition, 'name' | 'version'>): string =>
  `projection:${definition.name}:v${definition.version}`;

export const migrateProjection = (
  sql: SqlClient,
  definition: Pick<ProjectionDefinition, 'name' | 'migrations'>,
): Promise<void> => migrate(sql, `projection-${definition.name}`, [...definition.migrations]);

/** Empties a projection's tables in one transaction: a rebuild starts from nothing, or not at all. */
export async function resetProjection(
  sql: SqlClient,
  definition: Pick<ProjectionDefinition, 'tables'>,
): Promise<void> {
  await sql.transaction(async (tx) => {
    for (const table of definition.tables) await tx.query(`DELETE FROM ${table}`);
  });
}
