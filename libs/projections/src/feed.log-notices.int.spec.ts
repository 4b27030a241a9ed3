import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { FEED_PARTNERS, incidentStreamId, LOG_CHECKPOINT, POLICY_V1 } from '@truceline/domain';
import { SqlClient, SqlEventStore } from '@truceline/event-store';
import {
  generateSigningKey,
  Ledger,
  LogSealerOptions,
  migrateLedger,
  openNote,
  parseCheckpoint,
  parseSigningKey,
  parseVerifierKey,
} from '@truceline/ledger';
import {
  createTestDatabase,
  openPolicyStore,
  TestDatabase,
  trafficReport,
} from '@truceline/testing';
import { FeedProjection } from './feed.projection';
import { feedEntriesSql } from './feed.entries';
import { FeedEntry, FeedQueries } from './feed.queries';
import { logCheckpointNoticeId } from './feed.log-notices';
import { PolicyRegistry } from './policy.registry';
import { migratePartnerFeed } from './projections';

const PARTNERS = FEED_PARTNERS(POLICY_V1);
const ORIGIN = 'truceline/feed-notices-spec';

/**
 * SPEC §10: every checkpoint the sealer signs reaches every partner's feed as a LogCheckpoint
 * notice, in the transaction that stores it, after the entries of the events the feeds had
 * applied; never twice; and a rebuild from the log puts each notice back in the same place.
 */
describe.each([
  ['PGlite', false],
  ['PostgreSQL', true],
])('%s: LogCheckpoint notices in the partner feeds', (_engine, postgres) => {
  let database: TestDatabase | undefined;
  let sql: SqlClient;
  let store: SqlEventStore;
  let policies: PolicyRegistry;
  let feeds: FeedQueries;
  let sut: FeedProjection;
  const signer = parseSigningKey(generateSigningKey(ORIGIN));
  const verifier = parseVerifierKey(signer.verifierKey);

  const ledgerPublishing = (options: LogSealerOptions = {}, exercise = false) =>
    new Ledger(sql, store, signer, {
      pollIntervalMs: 10,
      checkpointIntervalMs: 60_000,
      onCheckpoint: async (tx, checkpoint, position) => {
        await sut.publishCheckpoint(tx, checkpoint, { origin: ORIGIN, position, exercise });
      },
      ...options,
    });
  const reportIncidents = async (count: number) => {
    for (let i = 0; i < count; i++) {
      await store.append(incidentStreamId(randomUUID()), [trafficReport()], {
        expectedRevision: 'no-stream',
      });
    }
  };
  const projectAll = async () => {
    for (const event of await store.readAll()) await sut.apply(event);
  };
  const feedRows = async () =>
    (
      await sql.query(
        `SELECT f.partner, f.seq, i.event_id, i.incident_id, i.type, i.occurred_at, i.recorded_at,
                i.position, i.data, i.exercise
           FROM (${feedEntriesSql()}) f JOIN partner_feed_items i ON i.item = f.item
          ORDER BY f.partner, f.seq`,
      )
    ).rows;
  const noticesOf = (entries: FeedEntry[]) => entries.filter((e) => e.type === LOG_CHECKPOINT);

  beforeAll(async () => {
    database = postgres ? await createTestDatabase() : undefined;
    ({ sql, store, policies } = await openPolicyStore(
      database ? { databaseUrl: database.url } : { inMemory: true },
      async (opened) => {
        await migratePartnerFeed(opened);
        await migrateLedger(opened);
      },
    ));
    sut = new FeedProjection(sql, policies);
    feeds = new FeedQueries(sql);
  });
  afterAll(async () => {
    await store.close();
    await sql.close();
    await database?.drop();
  });

  it('publishes each checkpoint to every partner after the entries applied so far, once, and a rebuild puts them back', async () => {
    const ledger = ledgerPublishing();
    // Signed before the feeds applied anything: first in every feed.
    const atStart = await ledger.latest();
    await reportIncidents(2);
    await projectAll();
    const covered = await ledger.latest();
    // The sealer runs ahead of the feeds: this one covers an event the feeds have not applied.
    await reportIncidents(1);
    const ahead = await ledger.latest();
    await projectAll();
    const events = await store.readAll();

    for (const partner of PARTNERS) {
      const entries = await feeds.page(partner, 0, 500);
      expect(entries.map((e) => e.seq)).toEqual(entries.map((_, i) => i + 1));
      const notices = noticesOf(entries);
      expect(notices.map((n) => (n.data as { treeSize: number }).treeSize)).toEqual([
        atStart!.treeSize,
        covered!.treeSize,
        ahead!.treeSize,
      ]);
      // In feed order: [notice, 2 reports' entries, notice, notice, the third report's entries].
      const places = notices.map((n) => entries.indexOf(n));
      expect(places[0]).toBe(0);
      expect(places[2]).toBe(places[1] + 1);
      expect(entries.slice(places[2] + 1).every((e) => e.position === events[3].position)).toBe(
        true,
      );
      expect(
        entries.slice(places[0] + 1, places[1]).every((e) => e.position < events[3].position),
      ).toBe(true);
    }
    const pl = noticesOf(await feeds.page('PL', 0, 500));
    for (const [notice, checkpoint] of [
      [pl[0], atStart],
      [pl[1], covered],
      [pl[2], ahead],
    ] as const) {
      const body = parseCheckpoint(
        openNote((notice.data as { checkpoint: string }).checkpoint, verifier),
      );
      expect(notice).toEqual({
        seq: notice.seq,
        id: logCheckpointNoticeId(ORIGIN, checkpoint!.treeSize),
        type: LOG_CHECKPOINT,
        incidentId: null,
        occurredAt: notice.recordedAt,
        recordedAt: notice.recordedAt,
        // The last event the checkpoint covers.
        position: events[checkpoint!.treeSize - 1].position,
        exercise: false,
        data: {
          checkpoint: checkpoint!.checkpoint,
          origin: ORIGIN,
          treeSize: checkpoint!.treeSize,
          rootHash: checkpoint!.rootHash,
        },
      });
      expect(body).toEqual({
        origin: ORIGIN,
        treeSize: checkpoint!.treeSize,
        rootHash: Buffer.from(checkpoint!.rootHash, 'base64'),
      });
    }

    // A redelivered event or checkpoint adds nothing; a rebuild from the log is the live feeds.
    const live = await feedRows();
    await projectAll();
    for (const event of events) await sut.apply(event);
    expect(await ledger.latest()).toEqual(ahead);
    expect(await feedRows()).toEqual(live);
    await sut.reset();
    await projectAll();
    expect(await feedRows()).toEqual(live);
    // The same in one batch, as a rebuild applies whole pages of the log.
    await sut.reset();
    await sut.applyBatch(events);
    expect(await feedRows()).toEqual(live);
  });

  it('stores no checkpoint without its notices, and a retry publishes it once, marked as drill data in exercise mode', async () => {
    await reportIncidents(1);
    await projectAll();
    let failures = 1;
    const ledger = ledgerPublishing(
      {
        onCheckpoint: async (tx, checkpoint, position) => {
          await sut.publishCheckpoint(tx, checkpoint, { origin: ORIGIN, position, exercise: true });
          if (failures-- > 0) throw new Error('the connection dropped mid-checkpoint');
        },
      },
      true,
    );
    const before = noticesOf(await feeds.page('UA', 0, 500)).length;

    await expect(ledger.latest()).rejects.toThrow('the connection dropped');
    expect(noticesOf(await feeds.page('UA', 0, 500))).toHaveLength(before);
    const signed = await ledger.latest();

    for (const partner of PARTNERS) {
      const notices = noticesOf(await feeds.page(partner, 0, 500));
      expect(
        notices.filter((n) => n.id === logCheckpointNoticeId(ORIGIN, signed!.treeSize)),
      ).toEqual([
        expect.objectContaining({
          exercise: true,
          data: expect.objectContaining({ checkpoint: signed!.checkpoint }),
        }),
      ]);
    }
  });

  it('puts every notice back in place when rebuilt after appends, the projector and the sealer ran together', async () => {
    const ledger = ledgerPublishing({ checkpointIntervalMs: 20 });
    const subscription = await store.subscribe((event) => sut.apply(event), {
      subscriberId: `feeds-${randomUUID()}`,
    });
    ledger.sealer.start();
    try {
      // Write for 600 ms and until six checkpoints were signed among the appends: on a loaded
      // machine the sealer signs fewer in the same time, and the test is about their placement.
      const until = Date.now() + 600;
      const giveUp = Date.now() + 20_000;
      const signed = async (): Promise<number> =>
        Number(
          (await sql.query<{ n: string }>('SELECT count(*) AS n FROM ledger_checkpoints')).rows[0]
            .n,
        );
      const writers = Array.from({ length: 2 }, async () => {
        while (Date.now() < giveUp && (Date.now() < until || (await signed()) <= 5)) {
          await reportIncidents(1);
          await sleep(15);
        }
      });
      await Promise.all(writers);
      await ledger.latest();
      await subscription.waitFor(await store.headPosition(), 20_000);
    } finally {
      await ledger.sealer.stop();
      await subscription.stop();
    }
    const { rows } = await sql.query<{ partner: string; notices: string; checkpoints: string }>(
      `SELECT partner, count(*) AS notices,
              (SELECT count(*) FROM ledger_checkpoints) AS checkpoints
         FROM (${feedEntriesSql()}) f JOIN partner_feed_items i ON i.item = f.item
        WHERE i.type = $1 GROUP BY partner ORDER BY partner`,
      [LOG_CHECKPOINT],
    );
    expect(rows.map((r) => r.partner)).toEqual([...PARTNERS].sort());
    for (const row of rows) expect(Number(row.notices)).toBe(Number(row.checkpoints));
    expect(Number(rows[0].checkpoints)).toBeGreaterThan(5);
    const live = await feedRows();

    await sut.reset();
    const log = await store.readAll();
    for (let page = 0; page < log.length; page += 7)
      await sut.applyBatch(log.slice(page, page + 7));

    expect(await feedRows()).toEqual(live);
  });
});
