import { EventEmitter } from 'node:events';
import {
  evolveIncident,
  FEED_PARTNERS,
  INCIDENT_TIER_CHANGED,
  decodeIncidentFact,
  incidentIdOf,
  IncidentState,
  initialIncidentState,
  isReleasable,
  redactFor,
  StoredEvent,
  TierChange,
} from '@truceline/domain';
import {
  createTable,
  deterministicId,
  NotifyAfterCommit,
  SqlClient,
  TableDefinition,
} from '@truceline/event-store';
import type { StoredCheckpoint } from '@truceline/ledger';
import { FeedRow, lockFeedPosition } from './feed.entries';
import {
  feedRowOf,
  LOG_NOTICES,
  LogNotice,
  logCheckpointNoticeId,
  logNoticesPlaced,
  recordLogNotice,
} from './feed.log-notices';
import { PolicyRegistry } from './policy.registry';
import { checkpointOf, Projection, ProjectionDefinition, resetProjection } from './projection';

/** The entries of every partner's feed, `seq` gap-free per partner. */
const PARTNER_FEED: TableDefinition = {
  name: 'partner_feed',
  columns: {
    partner: 'text NOT NULL',
    seq: 'bigint NOT NULL',
    event_id: 'uuid NOT NULL',
    // Null for a LogCheckpoint notice, which is about the whole log (SPEC §10); step 3.
    incident_id: 'text',
    type: 'text NOT NULL',
    occurred_at: 'timestamptz NOT NULL',
    recorded_at: 'timestamptz NOT NULL',
    position: 'bigint NOT NULL',
    data: 'jsonb NOT NULL',
    // Drill data is marked on every surface (SPEC §2); step 2 adds it to older stores.
    exercise: 'boolean NOT NULL DEFAULT false',
  },
  constraints: ['PRIMARY KEY (partner, seq)', 'UNIQUE (partner, event_id)'],
};

const TABLES: readonly TableDefinition[] = [
  PARTNER_FEED,
  // The projector's own fold of each incident: the incident view may lag behind it.
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
  TABLES.map(createTable).join(';\n'),
  // Version 2 of the feeds rebuilds them with the drill mark.
  `ALTER TABLE partner_feed ADD COLUMN IF NOT EXISTS exercise ${PARTNER_FEED.columns.exercise}`,
  `ALTER TABLE partner_feed ALTER COLUMN incident_id DROP NOT NULL`,
  // Where each LogCheckpoint notice went: kept across rebuilds, so not among `tables`.
  createTable(LOG_NOTICES) +
    ';\nCREATE INDEX IF NOT EXISTS partner_feed_log_notices_placed ' +
    'ON partner_feed_log_notices (after_position, tree_size)',
];

/** The partner feeds, declared once. */
export const FEEDS: ProjectionDefinition<FeedProjection> = {
  name: 'feeds',
  // Bump when the fold or a table changes: a new version is rebuilt from the log.
  version: 2,
  tables: TABLES.map((table) => table.name),
  migrations: MIGRATIONS,
  create: (sql, policies) => new FeedProjection(sql, policies),
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

/** `tierHistory` entries this event added, each a notice with an id fixed per (incident, tier). */
function tierNotices(incidentId: string, before: TierChange[], after: TierChange[]): Entry[] {
  return after.slice(before.length).map((change, index, added) => {
    const previous = index === 0 ? before[before.length - 1] : added[index - 1];
    return {
      id: tierNoticeId(incidentId, change.tier),
      type: INCIDENT_TIER_CHANGED,
      occurredAt: change.at,
      data: {
        incidentId,
        tier: change.tier,
        previousTier: previous ? previous.tier : null,
        at: change.at,
        causedBy: change.causedBy,
        policyVersion: change.policyVersion,
      },
    };
  });
}

class EntriesPresent extends Error {}

/** One entry to write, in feed order: the seq is given when the batch is written. */
interface Planned extends FeedRow {
  partner: string;
}

/** One row of partner_feed as the batched insert writes it. */
interface FeedRecord {
  partner: string;
  seq: number;
  event_id: string;
  incident_id: string | null;
  type: string;
  occurred_at: string;
  recorded_at: string;
  position: number;
  data: unknown;
  exercise: boolean;
}

const FEED_ROW = `partner text, seq bigint, event_id uuid, incident_id text, type text,
  occurred_at timestamptz, recorded_at timestamptz, position bigint, data jsonb, exercise boolean`;

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
      const notices = await logNoticesPlaced(tx, from, fresh[fresh.length - 1].position);
      const touched = await this.project(tx, fresh, notices);
      await tx.query('UPDATE partner_feed_position SET position = $2 WHERE name = $1', [
        FEED_PROJECTION,
        fresh[fresh.length - 1].position,
      ]);
      return { position: fresh[fresh.length - 1].position, partners: touched };
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
      partners: FEED_PARTNERS(this.policies.current()),
      data: {
        checkpoint: checkpoint.note,
        origin: publication.origin,
        treeSize: checkpoint.treeSize,
        rootHash: checkpoint.rootHash.toString('base64'),
      },
    };
    if (!(await recordLogNotice(tx, notice))) return [];
    return this.write(
      tx,
      notice.partners.map((partner) => ({ partner, ...feedRowOf(notice) })),
    );
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
   * Folds the events and writes their entries, each LogCheckpoint notice among them right after
   * the event it was placed after; returns the partners whose feeds grew.
   */
  private async project(
    tx: SqlClient,
    events: readonly StoredEvent[],
    notices: readonly LogNotice[],
  ): Promise<string[]> {
    const ids = [
      ...new Set(events.map((e) => incidentIdOf(e.streamId)).filter((id): id is string => !!id)),
    ];
    const folds = new Map<string, IncidentState>();
    if (ids.length > 0) {
      const { rows } = await tx.query<{ incident_id: string; state: IncidentState }>(
        'SELECT incident_id, state FROM partner_feed_incidents WHERE incident_id = ANY($1::text[])',
        [ids],
      );
      for (const row of rows) folds.set(row.incident_id, row.state);
    }
    const planned: Planned[] = [];
    let placed = 0;
    const placeNotices = (upTo: number) => {
      for (; placed < notices.length && notices[placed].afterPosition < upTo; placed++) {
        const notice = notices[placed];
        for (const partner of notice.partners) planned.push({ partner, ...feedRowOf(notice) });
      }
    };
    const changed = new Set<string>();
    for (const event of events) {
      placeNotices(event.position);
      this.policies.apply(event);
      const incidentId = incidentIdOf(event.streamId);
      if (!incidentId) continue;
      const before = folds.get(incidentId) ?? initialIncidentState();
      const fact = decodeIncidentFact(event);
      const after = fact ? evolveIncident(before, fact, this.policies.of) : before;
      folds.set(incidentId, after);
      changed.add(incidentId);
      const tierChanges = tierNotices(incidentId, before.tierHistory, after.tierHistory);
      // The partners of the policy in force when the event was appended: replays use the same.
      for (const partner of FEED_PARTNERS(this.policies.of(event.metadata.policyVersion))) {
        // A task answer is judged against the state that knows the task; a request, by its own list.
        const entries: Entry[] = [];
        if (isReleasable(event, partner, after)) {
          entries.push({
            id: event.id,
            type: event.type,
            occurredAt: event.occurredAt,
            data: redactFor(event, partner),
          });
        }
        entries.push(...tierChanges);
        for (const entry of entries) {
          planned.push({
            partner,
            ...entry,
            incidentId,
            recordedAt: event.recordedAt,
            position: event.position,
            // A notice derived from a drill's event is drill data too.
            exercise: event.metadata.exercise === true,
          });
        }
      }
    }
    placeNotices(Number.POSITIVE_INFINITY);
    if (changed.size > 0) {
      await tx.query(
        `INSERT INTO partner_feed_incidents (incident_id, state)
         SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(incident_id text, state jsonb)
         ON CONFLICT (incident_id) DO UPDATE SET state = EXCLUDED.state`,
        [JSON.stringify([...changed].map((id) => ({ incident_id: id, state: folds.get(id) })))],
      );
    }
    return this.write(tx, planned);
  }

  /**
   * Writes entries in the order given, each partner's next seqs after its last; returns the
   * partners whose feeds grew.
   */
  private async write(tx: SqlClient, planned: readonly Planned[]): Promise<string[]> {
    if (planned.length === 0) return [];
    const heads = await this.heads(tx, [...new Set(planned.map((p) => p.partner))]);
    /** Entries already in a feed are skipped without taking a seq, so seq stays gap-free. */
    const records = (present: ReadonlySet<string>): FeedRecord[] => {
      const next = new Map(heads);
      const seen = new Set(present);
      const out: FeedRecord[] = [];
      for (const entry of planned) {
        const { partner } = entry;
        const key = `${partner} ${entry.id}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const seq = (next.get(partner) ?? 0) + 1;
        next.set(partner, seq);
        out.push({
          partner,
          seq,
          event_id: entry.id,
          incident_id: entry.incidentId,
          type: entry.type,
          occurred_at: entry.occurredAt,
          recorded_at: entry.recordedAt,
          position: entry.position,
          data: entry.data,
          exercise: entry.exercise,
        });
      }
      return out;
    };
    const insert = (rows: FeedRecord[]) =>
      tx.query<{ seq: string | number }>(
        `INSERT INTO partner_feed (partner, seq, event_id, incident_id, type, occurred_at, recorded_at, position, data, exercise)
         SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(${FEED_ROW})
         ON CONFLICT (partner, event_id) DO NOTHING RETURNING seq`,
        [JSON.stringify(rows)],
      );
    let written = records(new Set());
    // The usual case writes every entry at once; an entry already in its feed (a redelivery
    // that slipped past the position row) undoes that attempt and the entries are written again
    // without it.
    const complete = await tx
      .transaction(async () => {
        const inserted = await insert(written);
        if (inserted.rows.length !== written.length) throw new EntriesPresent();
        return true;
      })
      .catch((error: unknown) => {
        if (error instanceof EntriesPresent) return false;
        throw error;
      });
    if (!complete) {
      const { rows } = await tx.query<{ partner: string; event_id: string }>(
        `SELECT partner, event_id FROM partner_feed
          WHERE (partner, event_id) IN (SELECT * FROM unnest($1::text[], $2::uuid[]))`,
        [planned.map((p) => p.partner), planned.map((p) => p.id)],
      );
      written = records(new Set(rows.map((row) => `${row.partner} ${row.event_id}`)));
      if (written.length > 0) await insert(written);
    }
    return [...new Set(written.map((record) => record.partner))];
  }

  /**
   * Each partner's last seq, read inside the applying transaction: one statement for all of
   * them (on the embedded store each statement costs milliseconds), one index probe each.
   */
  private async heads(tx: SqlClient, partners: string[]): Promise<Map<string, number>> {
    const { rows } = await tx.query<{ partner: string; head: string | number | null }>(
      `SELECT p AS partner, (SELECT MAX(seq) FROM partner_feed WHERE partner = p) AS head
         FROM unnest($1::text[]) AS p`,
      [partners],
    );
    return new Map(rows.map((row) => [row.partner, Number(row.head ?? 0)]));
  }

  /** Empties the feeds so they can be rebuilt from position 0. */
  reset(): Promise<void> {
    return resetProjection(this.sql, FEEDS);
  }
}
