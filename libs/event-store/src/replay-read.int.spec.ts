import { randomUUID } from 'node:crypto';
import { createTestDatabase } from '@truceline/testing';
import { SqlEventStore } from './sql-event-store';
import { openDatabase } from './sql/open-database';
import { SqlClient } from './sql/sql-client';

/** Timestamps as PostgreSQL reads them: fractions of every length, around 1970, years < 1000. */
const STAMPS = [
  '2026-03-02 00:00:00+00',
  '2026-03-02 23:59:59.999999+00',
  '2026-03-02 00:00:00.0005+00',
  '2026-12-31 23:59:59.1234+00',
  '2026-06-15 12:30:00.12+05:45',
  '1969-12-31 23:59:59.999999+00',
  '1970-01-01 00:00:00.000001+00',
  '0950-06-01 12:00:00.5+00',
];
/** Beyond what toISOString prints in four digits, which readAll on PGlite cannot read at all. */
const POSTGRES_ONLY_STAMPS = ['12000-01-01 00:00:00.000001+00', '0044-03-15 12:00:00.25+00 BC'];

const newEvent = () => ({
  id: randomUUID(),
  type: 'WarningIssued',
  occurredAt: '2026-03-02T00:00:00.000Z',
  data: { channel: 'c' },
  metadata: {
    correlationId: 'c',
    causationId: null,
    actor: { id: 'op', role: 'operator' as const },
    policyVersion: 1,
  },
});

async function insertAt(sql: SqlClient, stamps: readonly string[]): Promise<void> {
  for (const [index, stamp] of stamps.entries())
    await sql.query(
      `INSERT INTO events (position, id, stream_id, revision, type, schema_version, occurred_at,
                           recorded_at, data, metadata)
       VALUES ($1, $2, 'incident-stamps', $3, 'WarningIssued', 1, $4::timestamptz,
               $4::timestamptz + interval '1 microsecond', '{"channel":"c"}', '{"policyVersion":1}')`,
      [index + 1, randomUUID(), index, stamp],
    );
}

describe('readAllForReplay', () => {
  it('reads on PostgreSQL, in any session time zone, the very events readAll reads', async () => {
    const database = await createTestDatabase();
    const setup = await openDatabase({ databaseUrl: database.url });
    // Every connection opened after this prints timestamps at +05:45.
    await setup.exec(`ALTER DATABASE "${new URL(database.url).pathname.slice(1)}"
                      SET timezone = 'Asia/Kathmandu'`);
    await setup.close();
    const sql = await openDatabase({ databaseUrl: database.url });
    const store = new SqlEventStore(sql);
    try {
      await store.init();
      await insertAt(sql, [...STAMPS, ...POSTGRES_ONLY_STAMPS]);
      const events = await store.readAll();
      expect(events).toHaveLength(STAMPS.length + POSTGRES_ONLY_STAMPS.length);
      expect(await store.readAllForReplay()).toEqual(events);
      expect(await store.readAllForReplay({ after: 2, limit: 3 })).toEqual(events.slice(2, 5));
    } finally {
      await store.close();
      await sql.close();
      await database.drop();
    }
  });

  /**
   * settledPosition(until) once it reaches `expected`, or its last answer after 30 s: the
   * horizon it reads is the whole server's, and a transaction another test holds open in its
   * own database keeps it back until that transaction ends. On a slow machine, with the other
   * suites running beside this one, 10 s was once not enough (it answered 0 for all of them).
   */
  async function settledOnceOthersEnd(
    store: SqlEventStore,
    until: number,
    expected: number,
  ): Promise<number> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const settled = await store.settledPosition(until);
      if (settled === expected || Date.now() > deadline) return settled;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('reads the log in parts split by stream, and only up to where it is final', async () => {
    const database = await createTestDatabase();
    const sql = await openDatabase({ databaseUrl: database.url });
    const other = await openDatabase({ databaseUrl: database.url, poolSize: 1 });
    const store = new SqlEventStore(sql);
    try {
      await store.init();
      for (let n = 0; n < 12; n++)
        await store.append(`incident-${n % 5}`, [newEvent()], { expectedRevision: 'any' });
      await store.append('policy-escalation', [newEvent()], { expectedRevision: 'any' });
      const events = await store.readAll();
      const head = events[events.length - 1].position;
      const parts = [0, 1, 2].map(async (index) =>
        store.readPartForReplay({
          after: 0,
          through: head,
          index,
          count: 3,
          everyPart: ['policy-escalation'],
        }),
      );
      const read = await Promise.all(parts);
      for (const part of read) expect(part.at(-1)?.streamId).toBe('policy-escalation');
      const streams = read.map((part) => new Set(part.map((event) => event.streamId)));
      for (const [index, part] of streams.entries())
        for (const stream of part)
          if (stream !== 'policy-escalation')
            expect(streams.filter((s) => s.has(stream)).map((s) => streams.indexOf(s))).toEqual([
              index,
            ]);
      const merged = read
        .flat()
        .filter((e, i, all) => all.findIndex((f) => f.position === e.position) === i)
        .sort((a, b) => a.position - b.position);
      expect(merged).toEqual(events);
      expect(await settledOnceOthersEnd(store, head, head)).toBe(head);

      // A transaction in flight that began before an append: the append's row is not final.
      await other.transaction(async (tx) => {
        await tx.query('SELECT pg_current_xact_id()');
        const { events: appended } = await store.append('incident-9', [newEvent()], {
          expectedRevision: 'any',
        });
        expect(await settledOnceOthersEnd(store, appended[0].position, head)).toBe(head);
      });
      expect(await settledOnceOthersEnd(store, head + 1, head + 1)).toBe(head + 1);
    } finally {
      await store.close();
      await other.close();
      await sql.close();
      await database.drop();
    }
  }, 150_000); // three waits for other tests' transactions, 30 s at most each

  it('reads on PGlite the very events readAll reads', async () => {
    const sql = await openDatabase({ inMemory: true });
    const store = new SqlEventStore(sql);
    try {
      await store.init();
      await insertAt(sql, STAMPS);
      const events = await store.readAll();
      expect(events).toHaveLength(STAMPS.length);
      expect(await store.readAllForReplay()).toEqual(events);
    } finally {
      await store.close();
      await sql.close();
    }
  });
});
