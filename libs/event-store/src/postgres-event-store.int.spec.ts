import { createTestDatabase } from '@truceline/testing';
import { Client } from 'pg';
import { newEvents, outcome, sleep, streamName } from './contract/contract-kit';
import { runEventStoreContract } from './event-store.contract';
import { AppendOptions } from './event-store.port';
import { SqlEventStore } from './sql-event-store';
import { openDatabase } from './sql/open-database';
import { SqlClient } from './sql/sql-client';

runEventStoreContract('PostgreSQL (pg pool, real server)', async () => {
  const database = await createTestDatabase();
  // Several connections, so writers and readers really run side by side.
  const open = () => openDatabase({ databaseUrl: database.url, poolSize: 8 });
  let sql = await open();
  let store = new SqlEventStore(sql);
  const close = async () => {
    await store.close();
    await sql.close();
  };
  return {
    store,
    readsDuringWrites: true,
    reopen: async () => {
      await close();
      sql = await open();
      store = new SqlEventStore(sql);
      return store;
    },
    cleanup: async () => {
      await close();
      await database.drop();
    },
  };
});

/** Sessions of this database holding the lock an append takes its positions under. */
const POSITION_LOCK_HOLDERS = `
  SELECT l.pid, a.state FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
   WHERE l.locktype = 'advisory' AND l.granted
     AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
     AND l.classid = 1953853541 AND l.objid = 0 AND l.objsubid = 2`;

/** Those of them waiting for the positions' sequence. */
const HOLDING_AND_WAITING = `
  SELECT held.pid FROM (${POSITION_LOCK_HOLDERS}) held
    JOIN pg_locks waiting ON waiting.pid = held.pid
   WHERE waiting.locktype = 'relation' AND NOT waiting.granted
     AND waiting.database = (SELECT oid FROM pg_database WHERE datname = current_database())
     AND waiting.relation = 'event_positions'::regclass`;

/** The backend of the append caught holding the position lock, once it is (at most 10 s). */
async function appendHoldingPositionLock(client: Client): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { rows } = await client.query<{ pid: number }>(HOLDING_AND_WAITING);
    if (rows.length > 0) return rows[0].pid;
    if (Date.now() > deadline)
      throw new Error('no append came to hold the position lock and wait for the sequence');
    await sleep(10);
  }
}

describe('SqlEventStore on PostgreSQL: an append cancelled under the position lock', () => {
  // An append takes its positions under a session lock (truceline_append_columns), which the
  // end of its transaction does not release: should the statement fail in between, only the
  // function's exception block does. pg's pool ends the connection of a lone statement that
  // failed, and the session's locks with it; a transaction's connection goes back to the pool
  // after its ROLLBACK, session and all, and a lock left there would make every append of
  // every other connection wait for good.
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let sql: SqlClient;
  let sut: SqlEventStore;
  let otherSql: SqlClient;
  let otherProcess: SqlEventStore;

  beforeAll(async () => {
    database = await createTestDatabase();
    // One connection: the append after the cancelled one goes through the cancelled one's
    // session whenever the pool kept it.
    sql = await openDatabase({ databaseUrl: database.url, poolSize: 1 });
    sut = new SqlEventStore(sql);
    await sut.init();
    // Another process's appends, whose lock waits end in seconds: a position lock left behind
    // fails them instead of hanging the suite.
    const url = new URL(database.url);
    url.searchParams.set('options', '-c lock_timeout=5s');
    otherSql = await openDatabase({ databaseUrl: url.toString(), poolSize: 1 });
    otherProcess = new SqlEventStore(otherSql);
  });

  afterAll(async () => {
    await otherProcess.close();
    await otherSql.close();
    await sut.close();
    await sql.close();
    await database.drop();
  });

  it.each<[string, Pick<AppendOptions, 'beforeCommit'>, boolean]>([
    ['alone', {}, false],
    ['in a transaction of its own', { beforeCommit: async () => undefined }, true],
  ])(
    'leaves no lock, no event and no revision behind an append cancelled %s',
    async (_, route, sessionKept) => {
      const stream = streamName('cancelled');
      const created = await sut.append(stream, newEvents(1), { expectedRevision: 'no-stream' });
      const cancelled = newEvents(2);
      const holder = new Client({ connectionString: database.url });
      await holder.connect();
      try {
        // ALTER SEQUENCE (LOCK TABLE refuses a sequence) holds nextval off until its transaction
        // ends: the append stops between taking the position lock and releasing it, and is
        // cancelled there.
        await holder.query('BEGIN');
        await holder.query('ALTER SEQUENCE event_positions INCREMENT BY 1');
        const append = outcome(sut.append(stream, cancelled, { expectedRevision: 0, ...route }));
        const pid = await appendHoldingPositionLock(holder);
        const { rows: cancel } = await holder.query('SELECT pg_cancel_backend($1) AS sent', [pid]);
        expect(cancel).toEqual([{ sent: true }]);

        const result = await append;
        await holder.query('ROLLBACK');

        expect(!result.ok && result.error).toMatchObject({
          code: '57014',
          message: 'canceling statement due to user request',
        });
        expect((await holder.query(POSITION_LOCK_HOLDERS)).rows).toEqual([]);
        expect(await sut.streamRevision(stream)).toBe(0);
        expect(await sut.readStream(stream)).toEqual(created.events);
        expect(await sut.headPosition()).toBe(created.position);

        // The append retried through the store's one connection, and another process's.
        const retried = await sut.append(stream, cancelled, { expectedRevision: 0 });
        const { rows } = await sql.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        const elsewhere = await otherProcess.append(streamName('elsewhere'), newEvents(1), {
          expectedRevision: 'no-stream',
        });

        expect({ sameSession: rows[0].pid === pid }).toEqual({ sameSession: sessionKept });
        expect(retried).toMatchObject({ duplicate: false, nextExpectedRevision: 2 });
        expect(elsewhere.position).toBeGreaterThan(retried.position);
      } finally {
        await holder.query('ROLLBACK').catch(() => undefined);
        await holder.end();
      }
    },
  );
});
