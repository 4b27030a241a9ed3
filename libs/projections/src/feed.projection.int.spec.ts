import { incidentStreamId, NewEvent } from '@truceline/domain';
import { deterministicId, openDatabase, SqlClient, SqlEventStore } from '@truceline/event-store';
import { randomUUID } from 'node:crypto';
import {
  createTestDatabase,
  openPolicyStore,
  planForAnyParameters,
  PolicyStore,
  recordingPrepared,
  trafficReport,
} from '@truceline/testing';
import { lockFeedPosition } from './feed.entries';
import { FEED_STATE_SQL, FeedProjection } from './feed.projection';
import { migratePartnerFeed } from './projections';
import { FeedQueries, MAX_FEED_PAGE } from './feed.queries';

const INCIDENT = '0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6';
let counter = 0;
const event = (type: string, data: unknown, hour: number): NewEvent => ({
  id: deterministicId('feed-spec', String(++counter)),
  type,
  occurredAt: new Date(Date.UTC(2026, 2, 2, hour)).toISOString(),
  data,
  metadata: {
    correlationId: 'c',
    causationId: null,
    actor: { id: 'op', role: 'operator' },
    policyVersion: 1,
  },
});

describe(FeedProjection.name, () => {
  let sql: SqlClient;
  let store: SqlEventStore;
  let sut: FeedProjection;
  let feeds: FeedQueries;

  const project = async () => {
    for (const e of await store.readAll()) await sut.apply(e);
  };

  beforeAll(async () => {
    const opened = await openPolicyStore({ inMemory: true }, migratePartnerFeed);
    ({ sql, store } = opened);
    sut = new FeedProjection(sql, opened.policies);
    feeds = new FeedQueries(sql);
    await store.append(
      incidentStreamId(INCIDENT),
      [
        event(
          'BreachReported',
          {
            location: { sector: 's', frontlineKm: 1 },
            category: 'artillery',
            severity: 'major',
            source: { kind: 'sensor', id: 'secret-array' },
            summary: 'x',
          },
          0,
        ),
        event(
          'VerificationRequested',
          { verifiers: ['UA', 'US'], dueAt: '2026-03-02T06:00:00Z' },
          0,
        ),
        event(
          'VerificationFindingSubmitted',
          { verifier: 'US', finding: 'confirmed', evidence: [] },
          1,
        ),
        event('BreachConfirmed', { basis: 'override', reason: 'r' }, 2),
        event('HostilitiesPersisted', { observation: 'o' }, 3),
        event(
          'CoalitionTaskAssigned',
          {
            taskId: 't1',
            member: 'GB',
            capability: 'land',
            dueAt: '2026-03-03T00:00:00Z',
            tier: 2,
          },
          3,
        ),
        event('CoalitionTaskAcknowledged', { taskId: 't1' }, 4),
        event('EscalationAssessed', { scale: 'large-scale', assessor: 'a' }, 5),
      ],
      { expectedRevision: 'no-stream' },
    );
    await project();
  });
  afterAll(() => sql?.close());

  it('gives each partner what it may see, with a notice per tier, in log order', async () => {
    const pl = await feeds.page('PL', 0, 100);

    expect(pl.map((e) => e.type)).toEqual([
      'BreachReported',
      'IncidentTierChanged',
      'BreachConfirmed',
      'IncidentTierChanged',
      'HostilitiesPersisted',
      'IncidentTierChanged',
      'EscalationAssessed',
      'IncidentTierChanged',
    ]);
    expect(pl.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(pl[0].data).toMatchObject({ source: { kind: 'sensor' } });
    expect(JSON.stringify(pl[0].data)).not.toContain('secret-array');
    expect(pl[7]).toMatchObject({
      id: deterministicId(INCIDENT, 'tier-changed', '3'),
      incidentId: INCIDENT,
      data: { incidentId: INCIDENT, tier: 3, previousTier: 2, policyVersion: 1 },
    });
    const gb = (await feeds.page('GB', 0, 100)).map((e) => e.type);
    expect(gb).toContain('CoalitionTaskAssigned');
    expect(gb).toContain('CoalitionTaskAcknowledged');
    expect(gb).not.toContain('VerificationFindingSubmitted');
    const us = (await feeds.page('US', 0, 100)).map((e) => e.type);
    expect(us).toContain('VerificationFindingSubmitted');
    expect(us).toContain('CoalitionTaskAcknowledged');
  });

  it('skips what it already applied and rebuilds the same seqs and ids from position 0', async () => {
    const before = await feeds.page('GB', 0, 500);
    await project();
    expect(await feeds.page('GB', 0, 500)).toEqual(before);

    await sut.reset();
    await project();

    expect(await feeds.page('GB', 0, 500)).toEqual(before);
  });

  it('writes the same entries from one batch as from one event at a time', async () => {
    const partners = ['PL', 'GB', 'US', 'UA'];
    const oneByOne = await Promise.all(partners.map((p) => feeds.page(p, 0, 500)));

    await sut.reset();
    const events = await store.readAll();
    await sut.applyBatch(events.slice(0, 3));
    await sut.applyBatch(events);

    expect(await Promise.all(partners.map((p) => feeds.page(p, 0, 500)))).toEqual(oneByOne);
  });

  it('keeps of each incident only what its release decisions and tier notices read', async () => {
    const { rows } = await sql.query<{ state: string }>(
      'SELECT state FROM partner_feed_incidents WHERE incident_id = $1',
      [INCIDENT],
    );

    expect(rows.map((row) => JSON.parse(row.state))).toEqual([
      {
        tier: 3,
        verifiers: ['UA', 'US'],
        tasks: [expect.objectContaining({ taskId: 't1', member: 'GB', status: 'acknowledged' })],
      },
    ]);
  });

  it('pages by seq, finds an entry by id and knows the head', async () => {
    const all = await feeds.page('PL', 0, 500);

    expect(await feeds.page('pl', 2, 3)).toEqual(all.slice(2, 5));
    expect(await feeds.head('PL')).toBe(all.length);
    expect(await feeds.head('XX')).toBe(0);
    expect(await feeds.entry('PL', all[3].id)).toEqual(all[3]);
    expect(await feeds.entry('PL', 'not-an-id')).toBeNull();
  });

  it('writes an entry a feed already holds never again, not even past its position row', async () => {
    const partners = ['PL', 'GB', 'US', 'UA'];
    const before = await Promise.all(partners.map((p) => feeds.page(p, 0, 500)));
    // As if a second projector had not seen the first one's position: every event comes again.
    await sql.query('UPDATE partner_feed_position SET position = 0');

    await sut.applyBatch(await store.readAll());

    expect(await Promise.all(partners.map((p) => feeds.page(p, 0, 500)))).toEqual(before);
  });

  it('reads several feeds at once as each alone, and finds an entry only in the feeds holding it', async () => {
    const partners = ['PL', 'GB', 'US', 'UA'];
    const alone = await Promise.all(partners.map((p) => feeds.page(p, 1, 4)));

    const pages = await feeds.pages(
      partners.map((p) => [p, 1] as const),
      4,
    );

    expect(partners.map((p) => pages.get(p))).toEqual(alone);
    const task = (await feeds.page('GB', 0, 500)).find((e) => e.type === 'CoalitionTaskAssigned');
    expect(task).toBeDefined();
    expect(await feeds.entry('GB', task?.id ?? '')).toEqual(task);
    expect(await feeds.entry('PL', task?.id ?? '')).toBeNull();
  });

  it('reads the relay’s round: each known partner’s page after its cursor, and the partners it lacks', async () => {
    const partners = ['PL', 'GB', 'US', 'UA'];
    const heads = await feeds.heads();
    const alone = await Promise.all(partners.map((p) => feeds.page(p, 1, 4)));

    const round = await feeds.pendingPages(new Map(partners.map((p) => [p, 1])), 4);
    const atHead = await feeds.pendingPages(new Map([['PL', heads.get('PL') ?? 0]]), 4);

    expect(partners.map((p) => round.pages.get(p))).toEqual(alone);
    const others = [...heads.keys()].filter((p) => !partners.includes(p));
    expect(others.length).toBeGreaterThan(0);
    expect([...round.unknown].sort()).toEqual(others.sort());
    expect(atHead.pages.size).toBe(0);
    expect(atHead.unknown).not.toContain('PL');
  });

  it('tells listeners which partners got entries', async () => {
    const heard: string[][] = [];
    const stop = sut.onAppended(({ partners }) => heard.push(partners));
    await store.append(
      incidentStreamId(INCIDENT),
      [
        event(
          'DecisionRecorded',
          { authority: 'a', decision: 'other', rationale: 'r', releasableTo: ['PL'] },
          6,
        ),
      ],
      { expectedRevision: 'exists' },
    );
    await project();
    stop();

    expect(heard).toEqual([['PL']]);
  });
});

/** Runs a case on a database of its own, the log's tables and the feeds' made, then drops it. */
async function onNewFeedsDatabase(run: (opened: PolicyStore) => Promise<void>): Promise<void> {
  const database = await createTestDatabase();
  try {
    const opened = await openPolicyStore({ databaseUrl: database.url }, migratePartnerFeed);
    try {
      await run(opened);
    } finally {
      await opened.close();
    }
  } finally {
    await database.drop();
  }
}

describe('PostgreSQL: the partner feeds before ANALYZE', () => {
  it('plan a write by index probes, without JIT, on a table of items that has no statistics yet', async () => {
    const database = await createTestDatabase();
    const sql = await openDatabase({ databaseUrl: database.url });
    try {
      await migratePartnerFeed(sql);
      // A new or rebuilt table as the projector writes it in its first minute: no ANALYZE yet.
      await sql.query('ALTER TABLE partner_feed_items SET (autovacuum_enabled = off)');
      await sql.query(
        `INSERT INTO partner_feed_items
         SELECT i, gen_random_uuid(), 'incident-' || i, 'BreachReported', now(), now(), i,
                jsonb_build_object('summary', repeat('x', 300)), false, '{PL,GB,US}', ARRAY[i, i, i]
           FROM generate_series(1, 20000) AS i`,
      );
      const { rows: sample } = await sql.query<{ event_id: string }>(
        'SELECT event_id FROM partner_feed_items ORDER BY item DESC LIMIT 100',
      );
      const ids = sample.map((row) => row.event_id);

      const { rows } = await sql.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${FEED_STATE_SQL}`, [
        ['PL', 'GB', 'US'],
        ids,
      ]);
      const plan = rows.map((row) => row['QUERY PLAN']).join('\n');
      // However costly the planner takes the lookups to be, a writer's transaction compiles none.
      const jit = await sql.transaction(async (tx) => {
        await lockFeedPosition(tx, 'spec');
        await tx.query('SET LOCAL jit_above_cost = 0');
        const explained = await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${FEED_STATE_SQL}`, [
          ['PL'],
          ids,
        ]);
        const setting = await tx.query<{ jit: string }>(`SELECT current_setting('jit') AS jit`);
        return { setting: setting.rows[0].jit, plan: explained.rows.map((r) => r['QUERY PLAN']) };
      });

      expect(plan).not.toMatch(/Seq Scan on partner_feed_items/);
      expect(jit.setting).toBe('off');
      expect(jit.plan.join('\n')).not.toMatch(/JIT/);
      const { rows: found } = await sql.query<{ event_id: string | null }>(FEED_STATE_SQL, [
        ['PL'],
        ids,
      ]);
      expect(found.filter((row) => row.event_id !== null)).toHaveLength(100);
    } finally {
      await sql.close();
      await database.drop();
    }
  });

  it('plans the statements it prepares, once for any parameters, along indexes even on new tables', () =>
    onNewFeedsDatabase(async ({ sql, store, policies }) => {
      // The tables of a first start: the rebuild that made them analyzed them empty.
      await sql.query(
        'ANALYZE partner_feed_items, partner_feed_runs, partner_feed_incidents, partner_feed_log_notices',
      );
      const incident = incidentStreamId(randomUUID());
      await store.append(incident, [trafficReport()], { expectedRevision: 'no-stream' });
      const prepared = new Set<string>();
      const recording = new FeedProjection(recordingPrepared(sql, prepared), policies);
      const first = await store.readAll({ limit: 100 });
      await recording.applyBatch(first);
      // A page of new incidents looks no folds up: a later event of the incident looks its
      // fold up.
      await store.append(
        incident,
        [
          event(
            'DecisionRecorded',
            { authority: 'a', decision: 'other', rationale: 'r', releasableTo: ['PL'] },
            6,
          ),
        ],
        { expectedRevision: 'exists' },
      );
      await recording.applyBatch(
        await store.readAll({ after: first[first.length - 1].position, limit: 100 }),
      );

      // The plans a writer's transaction keeps, as its settings (lockFeedPosition) make them.
      const plans = await sql.transaction(async (tx) => {
        await lockFeedPosition(tx, 'spec');
        const planned: string[] = [];
        for (const text of prepared) planned.push(await planForAnyParameters(tx, text));
        return planned;
      });

      // The position lock, the folds with the notices placed, what the feeds hold, the write.
      expect(plans).toHaveLength(4);
      for (const plan of plans) expect(plan).not.toMatch(/Seq Scan/);
    }));

  it("cuts a partner's entries of one batch into runs of a reader's page at most", () =>
    onNewFeedsDatabase(async ({ sql, store, policies }) => {
      for (let i = 0; i < 300; i++)
        await store.append(incidentStreamId(randomUUID()), [trafficReport()], {
          expectedRevision: 'no-stream',
        });

      await new FeedProjection(sql, policies).applyBatch(await store.readAll({ limit: 1000 }));

      const { rows: runs } = await sql.query<{ first_seq: string; length: number }>(
        `SELECT first_seq, cardinality(items) AS length FROM partner_feed_runs
          WHERE partner = 'PL' ORDER BY first_seq`,
      );
      expect(runs.length).toBeGreaterThan(1);
      let next = 1;
      for (const run of runs) {
        expect(Number(run.first_seq)).toBe(next);
        expect(run.length).toBeLessThanOrEqual(MAX_FEED_PAGE);
        next += run.length;
      }
      const feeds = new FeedQueries(sql);
      const seqs = [];
      for (let after = 0; after < next - 1; after += MAX_FEED_PAGE)
        seqs.push(...(await feeds.page('PL', after, MAX_FEED_PAGE)).map((entry) => entry.seq));
      expect(seqs).toEqual(Array.from({ length: next - 1 }, (_, i) => i + 1));
    }));
});
