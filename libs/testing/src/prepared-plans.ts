import { QueryOptions, SqlClient } from '@truceline/event-store';

/**
 * `sql` with every statement text it is asked to prepare (QueryOptions.prepare) added to
 * `texts`, in its transactions too.
 */
export function recordingPrepared(sql: SqlClient, texts: Set<string>): SqlClient {
  return {
    engine: sql.engine,
    query: <T>(text: string, params?: unknown[], options?: QueryOptions) => {
      if (options?.prepare) texts.add(text);
      return sql.query<T>(text, params, options);
    },
    exec: (script) => sql.exec(script),
    transaction: (fn) => sql.transaction((tx) => fn(recordingPrepared(tx, texts))),
    close: () => sql.close(),
  };
}

/**
 * The plan PostgreSQL keeps for a prepared statement once it plans it for any parameters (what
 * QueryOptions.prepare leads to), as EXPLAIN prints it. Run in `tx`, with its settings.
 */
export async function planForAnyParameters(tx: SqlClient, text: string): Promise<string> {
  const count = Math.max(0, ...[...text.matchAll(/\$(\d+)/g)].map((match) => Number(match[1])));
  await tx.query("SELECT set_config('plan_cache_mode', 'force_generic_plan', true)");
  await tx.exec(`PREPARE planned AS ${text}`);
  try {
    const { rows } = await tx.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN EXECUTE planned(${Array<string>(count).fill('NULL').join(', ')})`,
    );
    return rows.map((row) => row['QUERY PLAN']).join('\n');
  } finally {
    await tx.exec('DEALLOCATE planned');
  }
}
