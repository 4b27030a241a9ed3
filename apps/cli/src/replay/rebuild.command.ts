import { SqlEventStore, SqlClient } from '@truceline/event-store';
import {
  buildInto,
  inSchema,
  INCIDENTS,
  migrateProjection,
  PolicyRegistry,
  ProjectionDefinition,
  PROJECTIONS,
  rebuildProjection,
  parseState,
  SCHEMA_NAME,
  schemaExists,
  storedView,
} from '@truceline/projections';
import { optionValue, ParsedArgs, rejectUnknownOptions, UsageError } from '../args';
import { CliEnvironment, CliError } from '../cli-environment';
import type { CliIo } from '../cli-io';
import { openLog } from '../log-access';
import { progressReporter } from './progress';

/** The options of a rebuild and of `--until`; `--policy` is the what-if's. */
export const REBUILD_OPTIONS = ['projection', 'until', 'into', 'json'] as const;

/** The projections `--projection NAME|all` names; an unknown name changes nothing. */
export function selectProjections(name: string | undefined): readonly ProjectionDefinition[] {
  if (name === undefined || name === 'all') return PROJECTIONS;
  const found = PROJECTIONS.find((definition) => definition.name === name);
  if (!found) {
    const known = [...PROJECTIONS.map((definition) => definition.name), 'all'].join(', ');
    throw new UsageError(`unknown projection "${name}" (known: ${known})`);
  }
  return [found];
}

/** `--until`: a log position (digits) or an ISO 8601 instant on the recordedAt clock. */
export type Until = { position: number } | { at: Date };

export function parseUntil(value: string): Until {
  if (/^\d+$/.test(value)) {
    const position = Number(value);
    if (!Number.isSafeInteger(position) || position < 1)
      throw new UsageError(`--until ${value}: a position is an integer of at least 1`);
    return { position };
  }
  const at = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(at.getTime()))
    throw new UsageError(
      `--until ${value}: expected a log position or an ISO 8601 time (e.g. 2026-03-02T06:30:00Z)`,
    );
  return { at };
}

/**
 * `truceline replay [--projection NAME|all]` rebuilds the projections beside the live ones and
 * swaps them in; `truceline replay --until ISO|POSITION [--into NAME] [--json]` builds them as
 * they stood then in a schema of their own and prints the incidents. Neither appends, nor runs
 * a service, nor publishes: only read model tables are written.
 */
export async function rebuildCommand(
  args: ParsedArgs,
  env: CliEnvironment,
  io: CliIo,
): Promise<number> {
  rejectUnknownOptions(args, REBUILD_OPTIONS);
  if (args.positionals.length > 0) throw new UsageError(`replay takes no ${args.positionals[0]}`);
  const definitions = selectProjections(optionValue(args, 'projection'));
  const untilText = optionValue(args, 'until');
  const into = optionValue(args, 'into');
  if (untilText === undefined && (into !== undefined || args.options.json))
    throw new UsageError('--into and --json go with --until');
  if (into !== undefined && !SCHEMA_NAME.test(into))
    throw new UsageError(
      `--into ${into}: a schema name of lower-case letters, digits and underscores (at most 63)`,
    );
  const until = untilText === undefined ? undefined : parseUntil(untilText);

  const sql = await openLog(env);
  try {
    const store = new SqlEventStore(sql);
    for (const definition of PROJECTIONS) await migrateProjection(sql, definition);
    // Read only: the adoptions already on the log (a replay never appends, not even version 1).
    const policies = new PolicyRegistry(store);
    await policies.refresh();
    const progress = progressReporter(io);
    // On PostgreSQL the incident view is loaded in parts by worker threads of their own.
    const databaseUrl = env.DATABASE_URL?.trim() || undefined;
    if (until === undefined) {
      for (const definition of definitions) {
        const result = await rebuildProjection(sql, policies, definition, {
          databaseUrl,
          onProgress: (p) => progress.update(p),
        });
        progress.stop();
        io.out(
          `${definition.name} v${definition.version}: rebuilt from ${result.events} events up to ` +
            `position ${result.position} in ${result.milliseconds} ms and swapped in`,
        );
      }
      return 0;
    }
    const position = await untilPosition(sql, store, until);
    const schema = into ?? `truceline_asof_${position}`;
    if (await schemaExists(sql, schema))
      throw new CliError(
        `schema ${schema} exists already: drop it (DROP SCHEMA ${schema} CASCADE) or pass another --into`,
      );
    try {
      for (const definition of definitions) {
        await buildInto(sql, policies, definition, schema, position, {
          databaseUrl,
          onProgress: (p) => progress.update(p),
        });
        progress.stop();
      }
    } catch (error) {
      await sql.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
      throw error;
    }
    io.err(
      `read models as of position ${position} built in schema ${schema} (the live ones untouched)`,
    );
    if (definitions.includes(INCIDENTS))
      await printIncidents(inSchema(sql, schema), io, !!args.options.json);
    return 0;
  } finally {
    await sql.close();
  }
}

/** The last position to fold: the position given, or the last event recorded by the time given. */
async function untilPosition(sql: SqlClient, store: SqlEventStore, until: Until): Promise<number> {
  const head = await store.headPosition();
  if ('position' in until) {
    if (until.position > head)
      throw new CliError(`--until ${until.position} is past the head of the log (${head})`);
    return until.position;
  }
  const now = await clockNow(sql);
  if (until.at.getTime() > now.getTime())
    throw new CliError(
      `--until ${until.at.toISOString()} is in the future (the clock reads ${now.toISOString()})`,
    );
  const { rows } = await sql.query<{ position: string | number | null }>(
    'SELECT max(position) AS position FROM events WHERE recorded_at <= $1',
    [until.at.toISOString()],
  );
  const position = Number(rows[0].position ?? 0);
  if (position === 0)
    throw new CliError(`nothing was recorded by ${until.at.toISOString()}: the log starts later`);
  return position;
}

/** The store's clock: the exercise clock of a drill when one is stored, else the system's. */
async function clockNow(sql: SqlClient): Promise<Date> {
  const { rows } = await sql.query<{ now: Date | string | null }>(
    `SELECT CASE WHEN to_regclass('exercise_clock') IS NULL THEN NULL
            ELSE (SELECT now FROM exercise_clock WHERE id = 1) END AS now`,
  );
  const stored = rows[0]?.now;
  return stored ? new Date(stored) : new Date();
}

async function printIncidents(sql: SqlClient, io: CliIo, json: boolean): Promise<void> {
  const { rows } = await sql.query<{ state: string }>(
    'SELECT state FROM incident_view ORDER BY created_position',
  );
  const views = rows.map((row) => storedView(parseState(row.state)));
  if (json) {
    io.out(JSON.stringify(views, null, 2));
    return;
  }
  const table = [
    ['incident', 'status', 'tier', 'sector', 'obligations'],
    ...views.map((view) => [
      view.incidentId,
      view.status,
      String(view.tier),
      view.sector,
      view.obligations.map((o) => `${o.kind} ${o.status}`).join(', '),
    ]),
  ];
  const widths = table[0].map((_, column) => Math.max(...table.map((row) => row[column].length)));
  for (const row of table)
    io.out(
      row
        .map((cell, i) => cell.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    );
  if (views.length === 0) io.out('(no incidents by then)');
}
