import { EventEmitter } from 'node:events';
import { isDeepStrictEqual } from 'node:util';
import {
  evolveIncident,
  FEED_PARTNERS,
  INCIDENT_TIER_CHANGED,
  decodeIncidentFact,
  incidentIdOf,
  IncidentFact,
  IncidentState,
  initialIncidentState,
  isReleasable,
  PolicyLookup,
  redactFor,
  StoredEvent,
  Tier,
  TierChange,
} from '@truceline/domain';
import {
  arrayLiteral,
  createTable,
  deterministicId,
  NotifyAfterCommit,
  SqlClient,
  TableDefinition,
} from '@truceline/event-store';
import type { StoredCheckpoint } from '@truceline/ledger';
import { FeedRow, feedHeadSql, lockFeedPosition } from './feed.entries';
import {
  feedRowOf,
  byPlacement,
  LOG_NOTICES,
  LogNotice,
  logCheckpointNoticeId,
  NoticeRow,
  noticeOf,
  noticesPlacedSql,
  recordLogNotice,
} from './feed.log-notices';
import { FEED_ROUND_FUNCTION, MAX_FEED_PAGE } from './feed.queries';
import { PolicyRegistry } from './policy.registry';
import { checkpointOf, Projection, ProjectionDefinition, resetProjection } from './projection';

/**
 * The first shape of the feeds (versions 1 and 2): one row per entry per partner, each with its
 * own copy of the entry. Kept as the migrations created it; version 3 drops it.
 */
const PARTNER_FEED_V2: TableDefinition = {
  name: 'partner_feed',
  columns: {
    partner: 'text NOT NULL',
    seq: 'bigint NOT NULL',
    event_id: 'uuid NOT NULL',
    incident_id: 'text NOT NULL',
    type: 'text NOT NULL',
    occurred_at: 'timestamptz NOT NULL',
    recorded_at: 'timestamptz NOT NULL',
    position: 'bigint NOT NULL',
    data: 'jsonb NOT NULL',
  },
  constraints: ['PRIMARY KEY (partner, seq)', 'UNIQUE (partner, event_id)'],
};

/**
 * Each entry once, whoever it is released to: the event (as released) or the notice, and the
 * partners whose feeds hold it with its seq in each (`partners[i]` at `seqs[i]`). `item` orders
 * the entries as they were written, the log's order.
 */
const FEED_ITEMS: TableDefinition = {
  name: 'partner_feed_items',
  columns: {
    item: 'bigint PRIMARY KEY',
    event_id: 'uuid NOT NULL',
    // Null for a LogCheckpoint notice, which is about the whole log (SPEC §10).
    incident_id: 'text',
    type: 'text NOT NULL',
    occurred_at: 'timestamptz NOT NULL',
    recorded_at: 'timestamptz NOT NULL',
    position: 'bigint NOT NULL',
    data: 'jsonb NOT NULL',
    // Drill data is marked on every surface (SPEC §2).
    exercise: 'boolean NOT NULL',
    partners: 'text[] NOT NULL',
    seqs: 'bigint[] NOT NULL',
  },
};

/**
 * Version 3's feeds: a row per entry per partner pointing at its item. A BreachConfirmed gave
 * each of ten partners the event and a tier notice, twenty rows and their index entries, the
 * largest part of a page's write. Kept as the migrations created it; version 4 drops it.
 */
const FEED_ENTRIES_V3: TableDefinition = {
  name: 'partner_feed_entries',
  columns: {
    partner: 'text NOT NULL',
    seq: 'bigint NOT NULL',
    event_id: 'uuid NOT NULL',
    item: 'bigint NOT NULL',
  },
  constraints: ['PRIMARY KEY (partner, seq)'],
};

/**
 * Every partner's feed, `seq` gap-free per partner, as runs of consecutive seqs: the entry at
 * `first_seq + k - 1` is item `items[k]`, and a partner's runs follow one another without gap or
 * overlap. A page of the projector writes one run per partner (up to FEED_RUN_LENGTH entries):
 * ten rows for a hundred breaches, where a row per entry was two thousand.
 */
const FEED_RUNS: TableDefinition = {
  name: 'partner_feed_runs',
  columns: {
    partner: 'text NOT NULL',
    first_seq: 'bigint NOT NULL',
    items: 'bigint[] NOT NULL',
  },
  constraints: ['PRIMARY KEY (partner, first_seq)'],
};

const TABLES: readonly TableDefinition[] = [
  FEED_RUNS,
  FEED_ITEMS,
  // What the projector keeps of each incident (FeedFold), as JSON text: the incident view,
  // which holds the whole fold, may lag behind the projector.
  {
    name: 'partner_feed_incidents',
    columns: { incident_id: 'text PRIMARY KEY', state: 'jsonb NOT NULL' },
  },
  // The last position applied, written in the same transaction as the entries it produced.
  {
    name: 'partner_feed_position',
    columns: { name: 'text PRIMARY KEY', position: 'bigint NOT NULL' },
  },
];

const MIGRATIONS = [
  [PARTNER_FEED_V2, ...TABLES.slice(2)].map(createTable).join(';\n'),
  // Version 2 of the feeds rebuilds them with the drill mark.
  `ALTER TABLE partner_feed ADD COLUMN IF NOT EXISTS exercise boolean NOT NULL DEFAULT false`,
  `ALTER TABLE partner_feed ALTER COLUMN incident_id DROP NOT NULL`,
  // Where each LogCheckpoint notice went: kept across rebuilds, so not among `tables`.
  createTable(LOG_NOTICES) +
    ';\nCREATE INDEX IF NOT EXISTS partner_feed_log_notices_placed ' +
    'ON partner_feed_log_notices (after_position, tree_size)',
  // Version 3: each entry stored once (items), the feeds as narrow rows pointing at them. The
  // index finds an entry by its id (a partner's receipt, the proofs, skipping a repeat).
  [FEED_ENTRIES_V3, FEED_ITEMS].map(createTable).join(';\n') +
    ';\nCREATE INDEX IF NOT EXISTS partner_feed_items_event ON partner_feed_items (event_id)' +
    ';\nDROP TABLE IF EXISTS partner_feed',
  // Version 4: each partner's feed as runs of seqs.
  createTable(FEED_RUNS) + ';\nDROP TABLE IF EXISTS partner_feed_entries',
  // The projector's folds as JSON text, as JSON.stringify printed them: nothing queries inside
  // them in SQL (the projector reads each back whole), and parsing every fold written into
  // jsonb, and printing it again when read, was the server's work for nothing (see
  // applyBatch). The folds keep their content (an object's keys in jsonb's order, which the
  // fold does not depend on): no rebuild.
  `ALTER TABLE partner_feed_incidents ALTER COLUMN state TYPE text USING state::text`,
  // The Kafka feed relay's round as one function, planned once per connection.
  FEED_ROUND_FUNCTION,
];

/** The partner feeds, declared once. */
export const FEEDS: ProjectionDefinition<FeedProjection> = {
  name: 'feeds',
  // Bump when the fold or a table changes: a new version is rebuilt from the log. Version 5
  // keeps a FeedFold of each incident where version 4 kept the whole IncidentState (the tables
  // are the same: no migration).
  version: 5,
  tables: TABLES.map((table) => table.name),
  migrations: MIGRATIONS,
  create: (sql, policies) => new FeedProjection(sql, policies),
  // Planning each page looks its ids up one index probe each (feedState): built only at the end
  // of a rebuild, every probe would scan the items loaded so far, a rebuild quadratic in the log
  // (30,000 incidents: not done in 180 s).
  loadIndexes: ['partner_feed_items_event'],
};
export const FEED_PROJECTION = checkpointOf(FEEDS);

/**
 * PostgreSQL channel notified once entries are committed, so the feed relays of other processes
 * publish them at once instead of at their next poll.
 */
export const FEED_CHANNEL = 'truceline_feed';

/** Sent after each applied event that added entries; the SSE edge wakes its clients on it. */
export interface FeedAppended {
  position: number;
  partners: string[];
}

/** What the sealer knows of a checkpoint it publishes besides the checkpoint itself. */
export interface CheckpointPublication {
  /** The log's origin line, `truceline/<deployment>`. */
  origin: string;
  /** The position of the last event the checkpoint covers. */
  position: number;
  /** Signed in exercise mode: the notice is drill data like every entry of a drill. */
  exercise: boolean;
}

interface Entry {
  id: string;
  type: string;
  occurredAt: string;
  data: unknown;
}

/** The id of the IncidentTierChanged notice of an incident reaching a tier: fixed per (incident, tier). */
export const tierNoticeId = (incidentId: string, tier: number): string =>
  deterministicId(incidentId, 'tier-changed', String(tier));

/**
 * The tiers an event reached (`reached`, the incident having been at tier `from`), each a notice
 * with an id fixed per (incident, tier).
 */
function tierNotices(incidentId: string, from: Tier | null, reached: TierChange[]): Entry[] {
  return reached.map((change, index) => {
    const previousTier = index === 0 ? from : reached[index - 1].tier;
    return {
      id: tierNoticeId(incidentId, change.tier),
      type: INCIDENT_TIER_CHANGED,
      occurredAt: change.at,
      data: {
        incidentId,
        tier: change.tier,
        previousTier,
        at: change.at,
        causedBy: change.causedBy,
        policyVersion: change.policyVersion,
      },
    };
  });
}

/**
 * What the feeds keep of an incident between pages (partner_feed_incidents): what the
 * need-to-know rules read (the verifiers asked, the coalition tasks) and the tier the next tier
 * notice follows. Keeping the incident view's whole fold here (obligations, findings, the tier
 * history…: ~0.6 kB for a report and its verification request, against ~50 bytes) stored every
 * report's fold twice.
 */
type FeedFold = Pick<IncidentState, 'tier' | 'verifiers' | 'tasks'>;

const NO_FOLD: FeedFold = { tier: null, verifiers: [], tasks: [] };

/**
 * A new incident's state, shared by every event folded (evolveIncident copies the state it is
 * given and never changes it or its lists).
 */
const NEW_INCIDENT: Readonly<IncidentState> = Object.freeze(initialIncidentState());

/**
 * Folds one fact into a FeedFold with the rules of the whole fold (evolveIncident): the tier,
 * the verifiers and the tasks change by the fact and these three alone. The state it evolves
 * has an empty tier history, so the history after the fact holds exactly the tiers it reached.
 */
function evolveFeedFold(
  fold: FeedFold,
  fact: IncidentFact,
  policyOf: PolicyLookup,
): { fold: FeedFold; reached: TierChange[] } {
  const { tier, verifiers, tasks } = fold;
  const after = evolveIncident({ ...NEW_INCIDENT, tier, verifiers, tasks }, fact, policyOf);
  return {
    fold: { tier: after.tier, verifiers: after.verifiers, tasks: after.tasks },
    reached: after.tierHistory,
  };
}

/** One entry to write and the partners it goes to, in feed order: seqs are given when written. */
interface Planned extends FeedRow {
  partners: readonly string[];
}

/** One row of partner_feed_items as the batched insert writes it. */
interface ItemRecord {
  item: number;
  event_id: string;
  incident_id: string | null;
  type: string;
  occurred_at: string;
  recorded_at: string;
  position: number;
  data: unknown;
  exercise: boolean;
  partners: string[];
  seqs: number[];
}

/** One row of partner_feed_runs: the partner's entries from `first_seq` on are `items`. */
interface RunRecord {
  partner: string;
  first_seq: number;
  items: number[];
}

/**
 * Entries planned: the items (each with its partners and seqs), each partner's runs of them, the
 * partners whose feeds grow.
 */
interface Written {
  items: ItemRecord[];
  runs: RunRecord[];
  partners: string[];
}

/**
 * The longest run of seqs a feed row holds: a reader detoasts a whole run to read any entry of
 * it, so a rebuild's pages of thousands of events are cut into runs of a reader's page at most.
 */
const FEED_RUN_LENGTH = MAX_FEED_PAGE;

/**
 * CTEs writing planned entries from fourteen parameters from `$at` on (entriesOf), as `plan`
 * made them. The runs are gathered in Node, where the seqs are given: grouping a page's
 * items by partner on the server (a lateral unnest of each item's partners, sorted and
 * aggregated) was a quarter of the page's write, ~1.6 ms of 7 for 70 reports.
 *
 * The rows come column by column, as the append's do: as one JSON document of records, parsing
 * it and taking the records apart was ~2.2 ms of a page's ~5 ms write for 50 reports, the
 * largest part of it. Each item's data, partners and seqs, and each run's items, come as one
 * text each, a line per row (JSON.stringify and the array literals write no raw line break).
 */
const writeEntries = (at: number): string => {
  const $ = (i: number) => `$${at + i}`;
  return `items AS (
     INSERT INTO partner_feed_items (item, event_id, incident_id, type, occurred_at, recorded_at,
       position, data, exercise, partners, seqs)
     SELECT item, event_id, incident_id, type, occurred_at, recorded_at, position, data::jsonb,
            exercise, partners::text[], seqs::bigint[]
       FROM unnest(${$(0)}::bigint[], ${$(1)}::uuid[], ${$(2)}::text[], ${$(3)}::text[],
                   ${$(4)}::timestamptz[], ${$(5)}::timestamptz[], ${$(6)}::bigint[],
                   string_to_array(${$(7)}::text, E'\\n'), ${$(8)}::boolean[],
                   string_to_array(${$(9)}::text, E'\\n'), string_to_array(${$(10)}::text, E'\\n'))
            AS r(item, event_id, incident_id, type, occurred_at, recorded_at, position, data,
                 exercise, partners, seqs)
   ), runs AS (
     INSERT INTO partner_feed_runs (partner, first_seq, items)
     SELECT partner, first_seq, items::bigint[]
       FROM unnest(${$(11)}::text[], ${$(12)}::bigint[], string_to_array(${$(13)}::text, E'\\n'))
            AS r(partner, first_seq, items)
   )`;
};

/** The parameters of writeEntries for what `plan` wrote: array literals of ours (arrayLiteral). */
function entriesOf({ items, runs }: Written): unknown[] {
  return [
    arrayLiteral(items.map((i) => i.item)),
    arrayLiteral(items.map((i) => i.event_id)),
    arrayLiteral(items.map((i) => i.incident_id)),
    arrayLiteral(items.map((i) => i.type)),
    arrayLiteral(items.map((i) => i.occurred_at)),
    arrayLiteral(items.map((i) => i.recorded_at)),
    arrayLiteral(items.map((i) => i.position)),
    items.map((i) => JSON.stringify(i.data)).join('\n'),
    arrayLiteral(items.map((i) => i.exercise)),
    items.map((i) => arrayLiteral(i.partners)).join('\n'),
    items.map((i) => arrayLiteral(i.seqs)).join('\n'),
    arrayLiteral(runs.map((r) => r.partner)),
    arrayLiteral(runs.map((r) => r.first_seq)),
    runs.map((r) => arrayLiteral(r.items)).join('\n'),
  ];
}

/**
 * Each partner's runs of the items planned, in seq order: the seqs a write gives a partner are
 * consecutive, and a run ends where a multiple of FEED_RUN_LENGTH does.
 */
function runsOf(items: readonly ItemRecord[]): RunRecord[] {
  const open = new Map<string, RunRecord>();
  const runs: RunRecord[] = [];
  for (const { item, partners, seqs } of items)
    for (let i = 0; i < partners.length; i++) {
      const seq = seqs[i];
      let run = open.get(partners[i]);
      if (!run || (seq - 1) % FEED_RUN_LENGTH === 0) {
        run = { partner: partners[i], first_seq: seq, items: [] };
        open.set(partners[i], run);
        runs.push(run);
      }
      run.items.push(item);
    }
  return runs;
}

/**
 * What planning a write reads, in one statement (parameters: the partners, the entries' ids):
 * each partner's last seq (one index probe each), the last item, and the items holding any of
 * the ids with their partners.
 *
 * The ids are looked up one index probe each (a lateral subquery the planner may not flatten),
 * not by `event_id = ANY(ids)`: until ANALYZE has run on partner_feed_items (a new or rebuilt
 * table; autovacuum gets there within a minute or more) the planner takes each id to match
 * 0.5% of the rows, a page's hundred ids a third of the table, and scanned all of it. In the
 * HTTP bench's first minute (a table of 20-40k items) that scan was ~10 ms of the server's time
 * for every page the projector wrote, more than any other statement of the feeds.
 */
export const FEED_STATE_SQL = `SELECT p AS partner,
        ${feedHeadSql('p')} AS head,
        NULL::uuid AS event_id, NULL::text[] AS holders
   FROM unnest($1::text[]) AS p
 UNION ALL
 SELECT NULL, (SELECT max(item) FROM partner_feed_items), NULL, NULL
 UNION ALL
 SELECT NULL, NULL, i.event_id, i.partners
   FROM unnest($2::uuid[]) AS id
  CROSS JOIN LATERAL (SELECT event_id, partners FROM partner_feed_items
                       WHERE event_id = id OFFSET 0) AS i`;

/** A row of FOLDS_AND_NOTICES_SQL: an incident's fold, or (incident_id null) a notice. */
type FoldOrNoticeRow =
  { incident_id: string; state: string } | ({ incident_id: null; state: null } & NoticeRow);

/**
 * What applying a page reads before it folds, in one statement (parameters: the incidents'
 * ids, then the positions `from` and `to`): the projector's fold of each incident, and the
 * LogCheckpoint notices placed after a position in [from, to]. Under load each round trip of
 * the page waits for both processes to be scheduled again, with the feeds' position row locked.
 */
const FOLDS_AND_NOTICES_SQL = `SELECT incident_id, state, NULL::uuid AS id,
        NULL::bigint AS after_position, NULL::bigint AS position, NULL::timestamptz AS signed_at,
        NULL::boolean AS exercise, NULL::jsonb AS partners, NULL::jsonb AS data,
        NULL::bigint AS tree_size
   FROM partner_feed_incidents WHERE incident_id = ANY($1::text[])
 UNION ALL
 SELECT NULL, NULL, n.* FROM (${noticesPlacedSql('$2', '$3')}) AS n`;

/**
 * The per-partner feeds of SPEC §7, projected from the log by a single projector: for each
 * incident event, every partner gets the event if the need-to-know rules release it to them
 * (redacted for them), then an IncidentTierChanged notice for each tier the event reached.
 * `seq` is gap-free per partner and assigned in log order, so a rebuild from position 0 gives
 * every entry the same seq and id again. The applied position is stored with the entries:
 * a redelivered event is skipped, and two projectors on one database serialise on its row.
 *
 * A batch is applied in one transaction: the position row is locked once, the incidents'
 * folds and the partners' last seq are read once, and the entries are written in one statement.
 * Each entry is stored once (partner_feed_items) with the partners it went to, and each partner's
 * feed as runs of seqs pointing at them (partner_feed_runs), a run per partner per batch: an
 * event and its notices go to every partner alike, so most entries are the same for all ten.
 *
 * Each signed checkpoint of the log goes to every partner as a LogCheckpoint notice (SPEC §10),
 * published by the sealer in the transaction that stores the checkpoint, after the entries of
 * the events applied so far. Where it went is recorded (partner_feed_log_notices), and applying
 * events puts back the notices placed among them, so a rebuild from the log gives the notices
 * the same seqs as well.
 */
export class FeedProjection implements Projection {
  private readonly appended = new EventEmitter();
  /** Other processes' feed relays (PostgreSQL) learn of new entries through FEED_CHANNEL. */
  private readonly notifyOtherProcesses: NotifyAfterCommit;

  constructor(
    private readonly sql: SqlClient,
    private readonly policies: PolicyRegistry,
  ) {
    this.appended.setMaxListeners(0);
    this.notifyOtherProcesses = new NotifyAfterCommit(sql, FEED_CHANNEL);
  }

  onAppended(listener: (appended: FeedAppended) => void): () => void {
    this.appended.on('appended', listener);
    return () => this.appended.off('appended', listener);
  }

  apply(event: StoredEvent): Promise<void> {
    return this.applyBatch([event]);
  }

  async applyBatch(events: readonly StoredEvent[]): Promise<void> {
    if (events.length === 0) return;
    const applied = await this.sql.transaction(async (tx) => {
      const after = await lockFeedPosition(tx, FEED_PROJECTION);
      const fresh = events.filter((event) => event.position > after);
      if (fresh.length === 0) return null;
      // Live, the sealer has already put these in (a repeat is skipped); rebuilding, they go
      // here. Those placed after `after` itself went in with the batch that applied it.
      const from = after === 0 ? 0 : after + 1;
      const position = fresh[fresh.length - 1].position;
      const { folds, written } = await this.project(tx, fresh, from, position);
      // The folds, the entries and the position in one statement: under load each round trip
      // waits for both processes to be scheduled again, with the position row locked. The folds
      // come column by column, the states as one text, a JSON document a line (JSON.stringify
      // writes no raw line break), stored as they are: as a JSON array of records handed to
      // jsonb_to_recordset, each ~1.7 kB state was parsed into jsonb, several passes a fold.
      await tx.query(
        `WITH folds AS (
           INSERT INTO partner_feed_incidents (incident_id, state)
           SELECT * FROM unnest($1::text[], string_to_array($2::text, E'\\n'))
                    AS r(incident_id, state)
           ON CONFLICT (incident_id) DO UPDATE SET state = EXCLUDED.state
         ), ${writeEntries(5)}
         UPDATE partner_feed_position SET position = $3 WHERE name = $4`,
        [arrayLiteral(folds.ids), folds.states, position, FEED_PROJECTION, ...entriesOf(written)],
        // Inserts from the parameters: planned once, not on every page (about 0.5 ms each).
        { prepare: true },
      );
      return { position, partners: written.partners };
    });
    if (applied && applied.partners.length > 0) this.announce(applied.position, applied.partners);
  }

  /**
   * Publishes a checkpoint to every partner's feed as a LogCheckpoint notice, after the entries
   * of the events applied so far, and records where it went. Runs in the caller's transaction
   * (the sealer's, which stores the checkpoint): the checkpoint and its notices commit together.
   * A checkpoint published before is left as it is. Returns the partners whose feeds grew.
   */
  async publishCheckpoint(
    tx: SqlClient,
    checkpoint: StoredCheckpoint,
    publication: CheckpointPublication,
  ): Promise<string[]> {
    const afterPosition = await lockFeedPosition(tx, FEED_PROJECTION);
    const notice: LogNotice = {
      id: logCheckpointNoticeId(publication.origin, checkpoint.treeSize),
      afterPosition,
      position: publication.position,
      signedAt: checkpoint.signedAt,
      exercise: publication.exercise,
      partners: [...FEED_PARTNERS(this.policies.current())],
      data: {
        checkpoint: checkpoint.note,
        origin: publication.origin,
        treeSize: checkpoint.treeSize,
        rootHash: checkpoint.rootHash.toString('base64'),
      },
    };
    if (!(await recordLogNotice(tx, notice))) return [];
    const written = await this.plan(tx, [{ ...feedRowOf(notice), partners: notice.partners }]);
    if (written.partners.length > 0)
      await tx.query(`WITH ${writeEntries(1)} SELECT 1`, entriesOf(written), { prepare: true });
    return written.partners;
  }

  /**
   * Wakes this process's feed readers, and other processes' through FEED_CHANNEL, after entries
   * were committed (by `applyBatch`, or outside it: the sealer's LogCheckpoint notices).
   */
  announce(position: number, partners: string[]): void {
    if (partners.length === 0) return;
    this.appended.emit('appended', { position, partners });
    this.notifyOtherProcesses.send();
  }

  /**
   * Folds the events and plans their entries, each LogCheckpoint notice placed after a position
   * in [`from`, `to`] among them right after the event it was placed after: the folds to store
   * (JSON) and the entries to write.
   */
  private async project(
    tx: SqlClient,
    events: readonly StoredEvent[],
    from: number,
    to: number,
  ): Promise<{ folds: { ids: string[]; states: string }; written: Written }> {
    // Incidents whose first event is among these have no fold stored yet, nor any entry: a
    // page of new reports reads nothing back. (Events are applied in the log's order, and a
    // stream's first event precedes its others, so no earlier page applied any of theirs.)
    const born = new Set<string>();
    const seen = new Set<string>();
    for (const event of events) {
      const incidentId = incidentIdOf(event.streamId);
      if (!incidentId || seen.has(incidentId)) continue;
      seen.add(incidentId);
      if (event.revision === 0) born.add(incidentId);
    }
    const ids = [...seen].filter((id) => !born.has(id));
    const folds = new Map<string, FeedFold>();
    const { rows } = await tx.query<FoldOrNoticeRow>(
      FOLDS_AND_NOTICES_SQL,
      [arrayLiteral(ids), from, to],
      {
        prepare: true,
      },
    );
    const noticeRows: NoticeRow[] = [];
    for (const row of rows) {
      if (row.incident_id !== null) folds.set(row.incident_id, JSON.parse(row.state) as FeedFold);
      else noticeRows.push(row);
    }
    const notices: LogNotice[] = noticeRows.sort(byPlacement).map(noticeOf);
    const planned: Planned[] = [];
    let placed = 0;
    const placeNotices = (upTo: number) => {
      for (; placed < notices.length && notices[placed].afterPosition < upTo; placed++) {
        const notice = notices[placed];
        planned.push({ ...feedRowOf(notice), partners: notice.partners });
      }
    };
    const changed = new Set<string>();
    for (const event of events) {
      placeNotices(event.position);
      this.policies.apply(event);
      const incidentId = incidentIdOf(event.streamId);
      if (!incidentId) continue;
      const before = folds.get(incidentId) ?? NO_FOLD;
      const fact = decodeIncidentFact(event);
      const evolved = fact ? evolveFeedFold(before, fact, this.policies.of) : null;
      const after = evolved ? evolved.fold : before;
      folds.set(incidentId, after);
      changed.add(incidentId);
      const { recordedAt, position } = event;
      // A notice derived from a drill's event is drill data too.
      const exercise = event.metadata.exercise === true;
      // The partners of the policy in force when the event was appended: replays use the same.
      const partners = FEED_PARTNERS(this.policies.of(event.metadata.policyVersion));
      // The event to each partner it is released to (a task answer is judged against the
      // state that knows the task; a request, by its own list), as redacted for them: one
      // entry per distinct redaction, in the order of the partners. Redactions are compared
      // as values: printing each to compare them cost twice as much (a report's redaction is
      // a new object for every partner).
      const released: { data: unknown; partners: string[] }[] = [];
      for (const partner of partners) {
        if (!isReleasable(event, partner, after)) continue;
        const data = redactFor(event, partner);
        const same = released.find((r) => r.data === data || isDeepStrictEqual(r.data, data));
        if (same) same.partners.push(partner);
        else released.push({ data, partners: [partner] });
      }
      // Each entry written out rather than spread from a shared row: a spread followed by keys
      // its source lacks takes V8's slow path, ~2% of the API's main thread under a load of
      // reports (the hottest lines of this fold in a profile).
      const { id, type, occurredAt } = event;
      for (const { data, partners: to } of released)
        planned.push({
          incidentId,
          recordedAt,
          position,
          exercise,
          id,
          type,
          occurredAt,
          data,
          partners: to,
        });
      // Then each tier the event reached, to every partner.
      for (const notice of tierNotices(incidentId, before.tier, evolved ? evolved.reached : []))
        planned.push({
          incidentId,
          recordedAt,
          position,
          exercise,
          id: notice.id,
          type: notice.type,
          occurredAt: notice.occurredAt,
          data: notice.data,
          partners,
        });
    }
    placeNotices(Number.POSITIVE_INFINITY);
    const changedIds = [...changed];
    return {
      folds: {
        ids: changedIds,
        states: changedIds.map((id) => JSON.stringify(folds.get(id))).join('\n'),
      },
      written: await this.plan(tx, planned),
    };
  }

  /**
   * Plans the entries given, in their order, each partner's next seqs after its last: the items
   * to write, each with the partners and seqs it takes in their feeds (writeEntries), and the
   * partners whose feeds grow. An entry a partner's feed already holds (its id there: a
   * LogCheckpoint notice the sealer put in first, a tier reached again) is skipped for that
   * partner without taking a seq, so seq stays gap-free and an id appears once in a feed. Every
   * writer holds the feeds' position row (lockFeedPosition), so what is read here stays true
   * until the commit.
   */
  private async plan(tx: SqlClient, planned: readonly Planned[]): Promise<Written> {
    const items: ItemRecord[] = [];
    if (planned.length === 0) return { items, runs: [], partners: [] };
    // Gathered without the flattened list of every entry's partners (ten a report).
    const partnerSet = new Set<string>();
    const idSet = new Set<string>();
    for (const entry of planned) {
      for (const partner of entry.partners) partnerSet.add(partner);
      idSet.add(entry.id);
    }
    const partners = [...partnerSet];
    const ids = [...idSet];
    const { heads, lastItem, held } = await this.feedState(tx, partners, ids);
    const next = new Map(heads);
    const grown = new Set<string>();
    let item = lastItem;
    for (const entry of planned) {
      // Most entries are new to every feed: no holders, nothing to filter.
      const holders = held.get(entry.id);
      const to = holders
        ? entry.partners.filter((partner) => !holders.has(partner))
        : [...entry.partners];
      if (to.length === 0) continue;
      if (holders) for (const partner of to) holders.add(partner);
      else held.set(entry.id, new Set(to));
      item += 1;
      const seqs = to.map((partner) => {
        const seq = (next.get(partner) ?? 0) + 1;
        next.set(partner, seq);
        grown.add(partner);
        return seq;
      });
      items.push({
        item,
        event_id: entry.id,
        incident_id: entry.incidentId,
        type: entry.type,
        occurred_at: entry.occurredAt,
        recorded_at: entry.recordedAt,
        position: entry.position,
        data: entry.data,
        exercise: entry.exercise,
        partners: to,
        seqs,
      });
    }
    return { items, runs: runsOf(items), partners: [...grown] };
  }

  /**
   * Read inside the applying transaction, in one statement (on the embedded store each
   * statement costs milliseconds): each partner's last seq (one index probe each), the last
   * item, and which partners' feeds already hold each of `ids` (by id).
   */
  private async feedState(
    tx: SqlClient,
    partners: string[],
    ids: string[],
  ): Promise<{ heads: Map<string, number>; lastItem: number; held: Map<string, Set<string>> }> {
    const { rows } = await tx.query<{
      partner: string | null;
      head: string | number | null;
      event_id: string | null;
      holders: string[] | null;
    }>(FEED_STATE_SQL, [arrayLiteral(partners), arrayLiteral(ids)], { prepare: true });
    const heads = new Map<string, number>();
    let lastItem = 0;
    const held = new Map<string, Set<string>>();
    for (const row of rows) {
      if (row.partner !== null) heads.set(row.partner, Number(row.head ?? 0));
      else if (row.event_id !== null) {
        // An id may be in several items (partners its entry reached in later writes).
        const holders = held.get(row.event_id) ?? new Set<string>();
        for (const partner of row.holders ?? []) holders.add(partner);
        held.set(row.event_id, holders);
      } else lastItem = Number(row.head ?? 0);
    }
    return { heads, lastItem, held };
  }

  /** Empties the feeds so they can be rebuilt from position 0. */
  reset(): Promise<void> {
    return resetProjection(this.sql, FEEDS);
  }
}
