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
import { createTable, deterministicId, SqlClient, TableDefinition } from '@truceline/event-store';
import { PolicyRegistry } from './policy.registry';
import { checkpointOf, Projection, ProjectionDefinition, resetProjection } from './projection';

/** The entries of every partner's feed, `seq` gap-free per partner. */
const PARTNER_FEED: TableDefinition = {
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

/** Sent after each applied event that added entries; the SSE edge wakes its clients on it. */
export interface FeedAppended {
  position: number;
  partners: string[];
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

/**
 * The per-partner feeds of SPEC §7, projected from the log by a single projector: for each
 * incident event, every partner gets the event if the need-to-know rules release it to them
 * (redacted for them), then an IncidentTierChanged notice for each tier the event reached.
 * `seq` is gap-free per partner and assigned in log order, so a rebuild from position 0 gives
 * every entry the same seq and id again. The applied position is stored with the entries:
 * a redelivered event is skipped, and two projectors on one database serialise on its row.
 */
export class FeedProjection implements Projection {
  private readonly appended = new EventEmitter();

  constructor(
    private readonly sql: SqlClient,
    private readonly policies: PolicyRegistry,
  ) {
    this.appended.setMaxListeners(0);
  }

  onAppended(listener: (appended: FeedAppended) => void): () => void {
    this.appended.on('appended', listener);
    return () => this.appended.off('appended', listener);
  }

  async apply(event: StoredEvent): Promise<void> {
    this.policies.apply(event);
    const incidentId = incidentIdOf(event.streamId);
    const partners = await this.sql.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO partner_feed_position (name, position) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING`,
        [FEED_PROJECTION],
      );
      const { rows } = await tx.query<{ position: string | number }>(
        'SELECT position FROM partner_feed_position WHERE name = $1 FOR UPDATE',
        [FEED_PROJECTION],
      );
      if (Number(rows[0].position) >= event.position) return [];
      const touched = incidentId ? await this.project(tx, incidentId, event) : [];
      await tx.query('UPDATE partner_feed_position SET position = $2 WHERE name = $1', [
        FEED_PROJECTION,
        event.position,
      ]);
      return touched;
    });
    if (partners.length > 0) this.appended.emit('appended', { position: event.position, partners });
  }

  private async project(tx: SqlClient, incidentId: string, event: StoredEvent): Promise<string[]> {
    const { rows } = await tx.query<{ state: IncidentState }>(
      'SELECT state FROM partner_feed_incidents WHERE incident_id = $1',
      [incidentId],
    );
    const before = rows[0]?.state ?? initialIncidentState();
    const fact = decodeIncidentFact(event);
    const after = fact ? evolveIncident(before, fact, this.policies.of) : before;
    await tx.query(
      `INSERT INTO partner_feed_incidents (incident_id, state) VALUES ($1, $2)
       ON CONFLICT (incident_id) DO UPDATE SET state = $2`,
      [incidentId, JSON.stringify(after)],
    );
    const notices = tierNotices(incidentId, before.tierHistory, after.tierHistory);
    const touched: string[] = [];
    // The partners of the policy in force when the event was appended: replays use the same.
    for (const partner of FEED_PARTNERS(this.policies.of(event.metadata.policyVersion))) {
      const entries: Entry[] = [];
      // A task answer is judged against the state that knows the task; a request, by its own list.
      if (isReleasable(event, partner, after)) {
        entries.push({
          id: event.id,
          type: event.type,
          occurredAt: event.occurredAt,
          data: redactFor(event, partner),
        });
      }
      entries.push(...notices);
      if (entries.length === 0) continue;
      for (const entry of entries) await this.append(tx, partner, incidentId, event, entry);
      touched.push(partner);
    }
    return touched;
  }

  private async append(
    tx: SqlClient,
    partner: string,
    incidentId: string,
    event: StoredEvent,
    entry: Entry,
  ): Promise<void> {
    await tx.query(
      `INSERT INTO partner_feed (partner, seq, event_id, incident_id, type, occurred_at, recorded_at, position, data, exercise)
       SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9
         FROM partner_feed WHERE partner = $1
       ON CONFLICT (partner, event_id) DO NOTHING`,
      [
        partner,
        entry.id,
        incidentId,
        entry.type,
        entry.occurredAt,
        event.recordedAt,
        event.position,
        JSON.stringify(entry.data),
        // A notice derived from a drill's event is drill data too.
        event.metadata.exercise === true,
      ],
    );
  }

  /** Empties the feeds so they can be rebuilt from position 0. */
  reset(): Promise<void> {
    return resetProjection(this.sql, FEEDS);
  }
}
