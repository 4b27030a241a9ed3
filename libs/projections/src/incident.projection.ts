import {
  decodeIncidentFact,
  evolveIncident,
  incidentIdOf,
  IncidentState,
  initialIncidentState,
  nextDueAt,
  POLICY_STREAM,
  StoredEvent,
} from '@truceline/domain';
import {
  arrayLiteral,
  CopyRows,
  createTable,
  SqlClient,
  TableDefinition,
} from '@truceline/event-store';
import { parseState } from './incident.queries';
import { PolicyRegistry } from './policy.registry';
import {
  LoaderOptions,
  Projection,
  ProjectionDefinition,
  ProjectionLoader,
  resetProjection,
} from './projection';

const VIEW_COLUMNS = `incident_id, created_position, position, revision, sector, status, tier,
  first_violation_at, confirmed_at, next_due_at, exercise, state`;

/**
 * Rows given column by column (see columnsOf): one statement for a whole page. The states come
 * as one text, one JSON document a line (JSON.stringify never writes a raw line break), split
 * by the server and stored as they are: the state column is text (see MIGRATIONS) — a JSON
 * array of records handed to jsonb_to_recordset cost the server three passes over every state,
 * and even one parse into jsonb per row was the dearest part of a rebuild.
 */
const INSERT = `INSERT INTO incident_view (${VIEW_COLUMNS})
  SELECT incident_id, created_position, position, revision, sector, status, tier,
    first_violation_at, confirmed_at, next_due_at, exercise, state
  FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::int[], $5::text[], $6::text[],
    $7::int[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::boolean[],
    string_to_array($12::text, E'\\n')) AS r(${VIEW_COLUMNS})`;

/** The same rows as INSERT, loaded by COPY (copyRowsOf) where the client has it. */
const COPY = `COPY incident_view (${VIEW_COLUMNS}) FROM STDIN`;

const UPSERT = `${INSERT}
  ON CONFLICT (incident_id) DO UPDATE SET position = EXCLUDED.position,
    revision = EXCLUDED.revision, sector = EXCLUDED.sector, status = EXCLUDED.status,
    tier = EXCLUDED.tier, first_violation_at = EXCLUDED.first_violation_at,
    confirmed_at = EXCLUDED.confirmed_at, next_due_at = EXCLUDED.next_due_at,
    exercise = EXCLUDED.exercise, state = EXCLUDED.state`;

interface ViewRow {
  created: number;
  position: number;
  state: IncidentState;
}

interface StoredViewRow {
  incident_id: string;
  created_position: string | number;
  position: string | number;
  /** The state as JSON text (see MIGRATIONS). */
  state: string;
}

const viewOf = (row: StoredViewRow): ViewRow => ({
  created: Number(row.created_position),
  position: Number(row.position),
  state: parseState(row.state),
});

/** The incidents whose streams the events belong to. */
function incidentsOf(events: readonly StoredEvent[]): Set<string> {
  const ids = new Set<string>();
  for (const event of events) {
    const incidentId = incidentIdOf(event.streamId);
    if (incidentId) ids.add(incidentId);
  }
  return ids;
}

/**
 * The one fold of the view: applies events given in position order to the rows in `views`
 * (every incident the events touch that has a row must be there; rows are updated in place),
 * adding the ids of the rows it changes to `changed`. An event at or below a row's position was
 * applied already: skipped. With `only`, the events of other incidents are skipped too.
 */
function foldViews(
  views: Map<string, ViewRow>,
  events: readonly StoredEvent[],
  policies: PolicyRegistry,
  changed: Set<string>,
  only?: ReadonlySet<string>,
): void {
  for (const event of events) {
    // Policies adopted on the log are learnt in log order, before the events they govern.
    policies.apply(event);
    const incidentId = incidentIdOf(event.streamId);
    if (!incidentId || (only && !only.has(incidentId))) continue;
    const fact = decodeIncidentFact(event);
    if (!fact) continue;
    const view = views.get(incidentId);
    if (!view) {
      const state = evolveIncident(initialIncidentState(), fact, policies.of);
      views.set(incidentId, { created: event.position, position: event.position, state });
    } else if (view.position < event.position) {
      view.state = evolveIncident(view.state, fact, policies.of);
      view.position = event.position;
    } else continue;
    changed.add(incidentId);
  }
}

/** The rows of `ids` column by column: the statements' parameters (see parametersOf) or COPY's rows. */
function columnsOf(
  views: ReadonlyMap<string, ViewRow>,
  ids: readonly string[],
): [readonly string[], ...(readonly (string | number | boolean | null)[])[]] {
  const n = ids.length;
  const created = new Array<number>(n);
  const positions = new Array<number>(n);
  const revisions = new Array<number>(n);
  const sectors = new Array<string>(n);
  const statuses = new Array<string>(n);
  const tiers = new Array<number>(n);
  const firstViolations = new Array<string | null>(n);
  const confirmations = new Array<string | null>(n);
  const nextDue = new Array<string | null>(n);
  const exercises = new Array<boolean>(n);
  const states = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const { created: first, position, state } = views.get(ids[i]) as ViewRow;
    created[i] = first;
    positions[i] = position;
    revisions[i] = state.revision ?? 0;
    sectors[i] = state.sector;
    statuses[i] = state.status;
    tiers[i] = state.tier ?? 0;
    firstViolations[i] = state.firstViolationAt;
    confirmations[i] = state.confirmedAt;
    nextDue[i] = nextDueAt(state);
    exercises[i] = state.exercise;
    states[i] = JSON.stringify(state);
  }
  return [
    ids,
    created,
    positions,
    revisions,
    sectors,
    statuses,
    tiers,
    firstViolations,
    confirmations,
    nextDue,
    exercises,
    states,
  ];
}

/**
 * Columns as the parameters of INSERT, UPSERT and WRITE: each an array literal of ours (see
 * arrayLiteral), the states as one text, a line each.
 */
function parametersOf(columns: ReturnType<typeof columnsOf>): unknown[] {
  const last = columns.length - 1;
  return columns.map((column, c) => (c === last ? column.join('\n') : arrayLiteral(column)));
}

/** Columns as the rows of COPY, in its text format. */
function copyRowsOf(columns: ReturnType<typeof columnsOf>): Buffer {
  const rows = new CopyRows();
  const last = columns.length - 1;
  for (let i = 0; i < columns[0].length; i++)
    for (let c = 0; c <= last; c++) rows.field(columns[c][i], c === last);
  return rows.bytes();
}

/**
 * The rows of a page written in one statement, without a transaction: a row whose fold began
 * at its stream's first event (the whole incident is in the page) is inserted, or replaces a
 * row behind it; a row folded on from the one this projection last wrote is updated only if
 * the table still holds that one (its position unchanged). $13 is that position, null for the
 * former. The rows written come back: any other was changed meanwhile (another process, a
 * rebuild swapped in) or is ahead already, and is folded again from the table.
 */
const WRITE = `WITH r AS (
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::int[], $5::text[],
      $6::text[], $7::int[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[],
      $11::boolean[], string_to_array($12::text, E'\\n'), $13::bigint[])
      AS r(${VIEW_COLUMNS}, expected)
  ),
  inserted AS (
    INSERT INTO incident_view (${VIEW_COLUMNS})
    SELECT ${VIEW_COLUMNS} FROM r WHERE expected IS NULL
    ON CONFLICT (incident_id) DO UPDATE SET position = EXCLUDED.position,
      revision = EXCLUDED.revision, sector = EXCLUDED.sector, status = EXCLUDED.status,
      tier = EXCLUDED.tier, first_violation_at = EXCLUDED.first_violation_at,
      confirmed_at = EXCLUDED.confirmed_at, next_due_at = EXCLUDED.next_due_at,
      exercise = EXCLUDED.exercise, state = EXCLUDED.state
    WHERE incident_view.position < EXCLUDED.position
    RETURNING incident_id
  ),
  updated AS (
    UPDATE incident_view v SET position = r.position, revision = r.revision, sector = r.sector,
      status = r.status, tier = r.tier, first_violation_at = r.first_violation_at,
      confirmed_at = r.confirmed_at, next_due_at = r.next_due_at, exercise = r.exercise,
      state = r.state
    FROM r WHERE r.expected IS NOT NULL AND v.incident_id = r.incident_id
      AND v.position = r.expected
    RETURNING v.incident_id
  )
  SELECT incident_id FROM inserted UNION ALL SELECT incident_id FROM updated`;

/**
 * WRITE for a page whose rows all begin at their stream's first event (under a load of reports,
 * most pages): the same insert, without the update and its join. An insert from the parameters
 * has no plan to choose (a conflict is found by the unique index, whatever the table's size), so
 * it is prepared: WRITE, planned on every call, cost the server more to plan than to run.
 */
const WRITE_NEW = `${UPSERT}
  WHERE incident_view.position < EXCLUDED.position
  RETURNING incident_id`;

/** Rows a projection remembers having written (the most recently written kept). */
const WRITTEN_RESIDENT = 4_096;
/** Rows held beyond WRITTEN_RESIDENT before the least recently written are let go, together. */
const WRITTEN_SPARE = 1_024;

/**
 * The incident read model behind GET /v1/incidents/{id}: the incident state folded from its
 * stream, one row per incident. Each row stores the global position it applied, so a
 * redelivered event is skipped (idempotent) and a projection never rejects a fact.
 *
 * Commands wait for it (read-your-writes), so a page is written in one statement where it
 * can be: an incident whose first event is in the page needs no row read, and one whose row
 * this projection wrote last is folded on from what it wrote (see WRITE). The rest (an
 * incident last written elsewhere or long ago, or changed meanwhile) go the safe way: their
 * rows read once in a transaction (locked), folded in memory, written back in one statement.
 */
export class IncidentProjection implements Projection {
  /** The rows this projection wrote last, least recently written first. */
  private readonly written = new Map<string, ViewRow>();

  constructor(
    private readonly sql: SqlClient,
    private readonly policies: PolicyRegistry,
  ) {}

  apply(event: StoredEvent): Promise<void> {
    return this.applyBatch([event]);
  }

  async applyBatch(events: readonly StoredEvent[]): Promise<void> {
    const views = new Map<string, ViewRow>();
    const expected = new Map<string, number | null>();
    const rest = new Set<string>();
    for (const event of events) {
      const incidentId = incidentIdOf(event.streamId);
      if (!incidentId || expected.has(incidentId) || rest.has(incidentId)) continue;
      const known = this.written.get(incidentId);
      if (event.revision === 0) expected.set(incidentId, null);
      else if (known && known.position < event.position) {
        expected.set(incidentId, known.position);
        views.set(incidentId, { ...known });
      } else rest.add(incidentId);
    }
    const changed = new Set<string>();
    foldViews(views, events, this.policies, changed, new Set(expected.keys()));
    if (changed.size > 0) {
      const ids = [...changed].sort();
      const parameters = parametersOf(columnsOf(views, ids));
      const { rows } = ids.every((id) => (expected.get(id) ?? null) === null)
        ? await this.sql.query<{ incident_id: string }>(WRITE_NEW, parameters, { prepare: true })
        : await this.sql.query<{ incident_id: string }>(WRITE, [
            ...parameters,
            ids.map((id) => expected.get(id) ?? null),
          ]);
      const stored = new Set(rows.map((row) => row.incident_id));
      for (const id of ids) {
        if (stored.has(id)) this.remember(id, views.get(id) as ViewRow);
        else if (expected.get(id) !== null) rest.add(id);
        else this.written.delete(id); // a row ahead of this page: read it when needed
      }
    }
    if (rest.size > 0) await this.applyLocked(events, rest);
  }

  /**
   * The safe way: the rows of `ids` read and locked, folded on, written back. The write is
   * prepared, as WRITE_NEW is (an insert from the parameters has no other plan to choose; an
   * incident last written by a rebuild, or long ago, takes this path on every page). The read is
   * planned on every call: for any number of ids, on a view analyzed while small, its plan is a
   * sequential scan.
   */
  private async applyLocked(events: readonly StoredEvent[], ids: Set<string>): Promise<void> {
    const written = await this.sql.transaction(async (tx) => {
      const { rows } = await tx.query<StoredViewRow>(
        `SELECT incident_id, created_position, position, state FROM incident_view
          WHERE incident_id = ANY($1::text[]) ORDER BY incident_id FOR UPDATE`,
        [[...ids]],
      );
      const views = new Map<string, ViewRow>(rows.map((row) => [row.incident_id, viewOf(row)]));
      const changed = new Set<string>();
      foldViews(views, events, this.policies, changed, ids);
      if (changed.size > 0)
        await tx.query(UPSERT, parametersOf(columnsOf(views, [...changed])), { prepare: true });
      return views;
    });
    for (const [id, view] of written) this.remember(id, view);
  }

  private remember(incidentId: string, view: ViewRow): void {
    this.written.delete(incidentId);
    this.written.set(incidentId, view);
    // Let go of a batch at a time, not the first key after every write: a Map finds its first
    // key by stepping over the entries deleted at its front until it is compacted, and the
    // eviction of one row after each write cost several microseconds a row.
    if (this.written.size > WRITTEN_RESIDENT + WRITTEN_SPARE) {
      let excess = this.written.size - WRITTEN_RESIDENT;
      for (const id of this.written.keys()) {
        if (excess-- === 0) break;
        this.written.delete(id);
      }
    }
  }

  /** Drops the read model so it can be rebuilt from position 0. */
  async reset(): Promise<void> {
    this.written.clear();
    await resetProjection(this.sql, INCIDENTS);
  }
}

/** Incidents whose rows a loader keeps in memory (the least recently changed go beyond). */
const LOADER_RESIDENT = 20_000;
/** Rows changed since a loader last wrote, after which it writes them. */
const LOADER_WRITE_ROWS = 5_000;

/**
 * Loads incident_view from the log in a rebuild (see ProjectionLoader): the rows of recent
 * incidents stay in memory across pages and are folded there by the same fold as applyBatch;
 * the rows changed are written every LOADER_WRITE_ROWS, a row new to the table by a plain
 * INSERT, while the fold goes on with the next pages. An incident's events usually lie close
 * together in the log, so most rows are written once. Beyond LOADER_RESIDENT incidents the rows
 * changed longest ago are let go (written already) and read back if their incident comes again.
 */
export class IncidentViewLoader implements ProjectionLoader {
  /** Rows held, least recently changed first. */
  private readonly views = new Map<string, ViewRow>();
  /** Held rows the table has (possibly behind what is held). */
  private readonly stored = new Set<string>();
  /** Held rows changed since the last write. */
  private readonly dirty = new Set<string>();
  /** Whether the table may hold rows not held here: it had rows, or some were let go. */
  private lookup: boolean | null = null;
  /** The last write in flight: one at a time, each after the one before. */
  private writing: Promise<void> = Promise.resolve();
  /** Whether the server compresses with lz4 (null until the first page). */
  private lz4: boolean | null = null;

  constructor(
    private readonly sql: SqlClient,
    private readonly policies: PolicyRegistry,
    private readonly limits = { resident: LOADER_RESIDENT, writeRows: LOADER_WRITE_ROWS },
    options: LoaderOptions = {},
  ) {
    if (options.empty) this.lookup = false;
  }

  async load(events: readonly StoredEvent[]): Promise<void> {
    this.lookup ??= await this.tableHasRows();
    this.lz4 ??= await lz4Available(this.sql);
    if (this.lookup) await this.readMissing(events);
    const changed = new Set<string>();
    foldViews(this.views, events, this.policies, changed);
    for (const incidentId of changed) {
      // Most recently changed last: the order rows are let go in.
      const view = this.views.get(incidentId) as ViewRow;
      this.views.delete(incidentId);
      this.views.set(incidentId, view);
      this.dirty.add(incidentId);
    }
    if (this.dirty.size >= this.limits.writeRows) await this.write();
  }

  async finish(): Promise<void> {
    if (this.dirty.size > 0) await this.write();
    await this.writing;
  }

  /**
   * Starts writing the changed rows and returns once the write before it is done, so the fold
   * runs ahead of the database by one write at most.
   */
  private async write(): Promise<void> {
    const fresh: string[] = [];
    const known: string[] = [];
    for (const incidentId of this.dirty)
      (this.stored.has(incidentId) ? known : fresh).push(incidentId);
    const inserts = fresh.length > 0 ? columnsOf(this.views, fresh) : null;
    const upserts = known.length > 0 ? columnsOf(this.views, known) : null;
    for (const incidentId of fresh) this.stored.add(incidentId);
    this.dirty.clear();
    const previous = this.writing;
    const write = (async () => {
      await previous;
      await this.sql.transaction(async (tx) => {
        // A state longer than about 2 kB (an incident with many tasks or receipts) is
        // compressed as it is stored: lz4 (where the server has it) does it several times faster
        // than the default pglz, and reads back faster too. Only these rows are concerned, not
        // the table's settings.
        if (this.lz4) await tx.query("SET LOCAL default_toast_compression = 'lz4'");
        // New rows by COPY where the client has it (PostgreSQL): the server parses a page of
        // rows a quarter cheaper than from INSERT's arrays.
        if (inserts && tx.copyFrom) await tx.copyFrom(COPY, copyRowsOf(inserts));
        else if (inserts) await tx.query(INSERT, parametersOf(inserts));
        if (upserts) await tx.query(UPSERT, parametersOf(upserts));
      });
    })();
    // Awaited by the next write or by finish; until then its failure must not go unhandled.
    write.catch(() => undefined);
    this.writing = write;
    await previous;
    this.letGo();
  }

  /** Lets go of the rows changed longest ago while more than `resident` are held (none dirty). */
  private letGo(): void {
    for (const incidentId of this.views.keys()) {
      if (this.views.size <= this.limits.resident) return;
      if (this.dirty.has(incidentId)) continue;
      this.views.delete(incidentId);
      this.stored.delete(incidentId);
      this.lookup = true;
    }
  }

  /** Reads back the rows of the page's incidents that are not held but may be in the table. */
  private async readMissing(events: readonly StoredEvent[]): Promise<void> {
    const missing = [...incidentsOf(events)].filter((incidentId) => !this.views.has(incidentId));
    if (missing.length === 0) return;
    await this.writing; // a row let go may still be on its way to the table
    const { rows } = await this.sql.query<StoredViewRow>(
      `SELECT incident_id, created_position, position, state FROM incident_view
        WHERE incident_id = ANY($1::text[])`,
      [missing],
    );
    for (const row of rows) {
      this.views.set(row.incident_id, viewOf(row));
      this.stored.add(row.incident_id);
    }
  }

  private async tableHasRows(): Promise<boolean> {
    const { rows } = await this.sql.query<{ found: boolean }>(
      'SELECT EXISTS (SELECT 1 FROM incident_view) AS found',
    );
    return rows[0].found;
  }
}

/** Whether the server compresses with lz4 (PostgreSQL 14 and later, when built with it). */
async function lz4Available(sql: SqlClient): Promise<boolean> {
  const { rows } = await sql.query<{ lz4: boolean }>(
    `SELECT 'lz4' = ANY(enumvals) AS lz4 FROM pg_settings WHERE name = 'default_toast_compression'`,
  );
  return rows[0]?.lz4 === true;
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
  // The state is JSON text, stored as JSON.stringify printed it: nothing queries inside it in
  // SQL (the API reads it whole and shapes it, see storedView), and parsing every state into jsonb
  // was more than half of what the server spent storing a row — a rebuild's dearest part.
  // Existing rows keep their content; the version bump below rebuilds them from the log anyway.
  `ALTER TABLE incident_view ALTER COLUMN state TYPE text USING state::text`,
];

/** The incident read model, declared once. */
export const INCIDENTS: ProjectionDefinition<IncidentProjection> = {
  name: 'incidents',
  // Bump when the fold or a table changes: a new version is rebuilt from the log.
  version: 3,
  tables: [INCIDENT_VIEW.name],
  migrations: MIGRATIONS,
  create: (sql, policies) => new IncidentProjection(sql, policies),
  loader: (sql, policies, options) => new IncidentViewLoader(sql, policies, undefined, options),
  // A row is its incident's stream folded, under the policies adopted on the log before.
  splitByStream: { everyPart: [POLICY_STREAM] },
};
