import { SqlClient } from './sql-client';

/**
 * Key of the transaction-level advisory lock every migration takes: two processes starting at
 * once apply each step exactly once, the second waiting for the first to commit and then
 * finding the steps recorded. One key for all components keeps CREATE TABLE IF NOT EXISTS of
 * the bookkeeping table itself race-free too.
 */
const MIGRATION_LOCK_KEY = 7_306_411_213;

/**
 * Applies the steps of `component` not applied yet, in order, in one transaction: either all
 * missing steps are applied or none. Step i (0-based) is version i + 1; steps are append-only,
 * never edited once released. Each step is a script and may hold several statements.
 */
export async function migrate(sql: SqlClient, component: string, steps: string[]): Promise<void> {
  await sql.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      component text NOT NULL,
      version integer NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (component, version)
    )`);
    const { rows } = await tx.query<{ version: number }>(
      'SELECT version FROM schema_migrations WHERE component = $1',
      [component],
    );
    const applied = new Set(rows.map((row) => row.version));
    const newest = Math.max(0, ...applied);
    if (newest > steps.length) {
      // Older code on a newer schema could write what the newer code no longer expects.
      throw new Error(
        `schema of ${component} is at version ${newest}, this code knows ${steps.length} steps`,
      );
    }
    for (const [index, step] of steps.entries()) {
      const version = index + 1;
      if (applied.has(version)) continue;
      await tx.exec(step);
      await tx.query('INSERT INTO schema_migrations (component, version) VALUES ($1, $2)', [
        component,
        version,
      ]);
    }
  });
}
