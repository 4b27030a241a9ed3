import { ConcurrencyError, TrucelineError, ValidationError } from '@truceline/domain';
import { createTestDatabase, planForAnyParameters, recordingPrepared } from '@truceline/testing';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { newEvent, newEvents, outcome, streamName } from './contract/contract-kit';
import { EVENT_STORE_COMPONENT, EVENT_STORE_MIGRATIONS } from './event-store.schema';
import { SqlEventStore } from './sql-event-store';
import { migrate } from './sql/migrate';
import { openDatabase } from './sql/open-database';
import { SqlClient } from './sql/sql-client';

/** What the contract leaves to each implementation: SqlEventStore's own promises. */
type Engine = [string, () => Promise<{ url?: string; sql: SqlClient; cleanup(): Promise<void> }>];
const engines: Engine[] = [
  [
    'PostgreSQL',
    async () => {
      const database = await createTestDatabase();
      const sql = await openDatabase({ databaseUrl: database.url });
      return { url: database.url, sql, cleanup: async () => (await sql.close(), database.drop()) };
    },
  ],
  [
    'PGlite',
    async () => {
      const sql = await openDatabase({ inMemory: true });
      return { sql, cleanup: () => sql.close() };
    },
  ],
];

describe(SqlEventStore.name, () => {
  describe.each(engines)('on %s', (engineName, setUp) => {
    let engine: Awaited<ReturnType<Engine[1]>>;
    let sut: SqlEventStore;
    beforeAll(async () => {
      engine = await setUp();
      sut = new SqlEventStore(engine.sql);
      await sut.init();
    });
    afterAll(async () => {
      await sut.close();
      await engine.cleanup();
    });

    it('stamps recordedAt from the injected clock (an exercise clock), not the database', async () => {
      const exercise = new SqlEventStore(engine.sql, {
        now: () => new Date('2030-01-01T00:00:00Z'),
      });
      const stream = streamName('clock');

      const result = await exercise.append(stream, newEvents(2), { expectedRevision: 'no-stream' });

      expect(result.events.map((e) => e.recordedAt)).toEqual([
        '2030-01-01T00:00:00.000Z',
        '2030-01-01T00:00:00.000Z',
      ]);
      expect((await sut.readStream(stream))[1].recordedAt).toBe('2030-01-01T00:00:00.000Z');
    });

    it('refuses an append that reuses stored ids without being the same append', async () => {
      const stream = streamName('reuse');
      const [stored] = (await sut.append(stream, newEvents(1), { expectedRevision: 'no-stream' }))
        .events;
      const reused = { ...newEvent(), id: stored.id };
      const head = await sut.headPosition();

      // The last creates its stream: its ids are not looked up, the insert's unique index
      // refuses it (see the schema's step that stopped looking them up).
      for (const [target, events, expectedRevision] of [
        [stream, [reused, newEvent()], 'any'],
        [streamName('elsewhere'), [reused], 'any'],
        [streamName('new'), [newEvent(), reused], 'no-stream'],
      ] as const) {
        const attempt = sut.append(target, [...events], { expectedRevision });
        await expect(attempt).rejects.toBeInstanceOf(TrucelineError);
        await expect(attempt).rejects.toMatchObject({ code: 'idempotency-conflict' });
      }
      expect(await sut.headPosition()).toBe(head);
    });

    it('reports a collision with a writer that bypassed the head lock as ConcurrencyError', async () => {
      const stream = streamName('bypass');
      const intruder = newEvent();
      // A row written behind the store's back at the position the next append will take.
      await engine.sql.query(
        `INSERT INTO events (position, id, stream_id, revision, type, schema_version,
           occurred_at, recorded_at, data, metadata)
         SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END, $1, $2, 0,
                'Intruded', 1, now(), now(), '{}', '{}'
           FROM event_positions`,
        [intruder.id, stream],
      );

      const attempt = sut.append(stream, newEvents(1), { expectedRevision: 'any' });

      await expect(attempt).rejects.toBeInstanceOf(ConcurrencyError);
      await engine.sql.query('DELETE FROM events WHERE id = $1', [intruder.id]);
    });

    it('converts a store written by the previous append function: appends go on where it stopped', async () => {
      const older = await setUp();
      try {
        // The schema as the grouped json append left it, and a stream written through it.
        await migrate(older.sql, EVENT_STORE_COMPONENT, EVENT_STORE_MIGRATIONS.slice(0, 3));
        const stream = streamName('converted');
        const written = newEvents(2);
        await older.sql.query(
          'SELECT * FROM truceline_append_group($1::text[], $2::text[], $3::timestamptz[], $4::jsonb, 1)',
          [[stream], ['no-stream'], ['2026-01-01T00:00:00Z'], JSON.stringify([written])],
        );

        const store = new SqlEventStore(older.sql);
        await store.init();
        const next = await store.append(stream, newEvents(1), { expectedRevision: 1 });
        const retried = await store.append(stream, written, { expectedRevision: 'no-stream' });

        expect(next).toMatchObject({ nextExpectedRevision: 2, position: 3 });
        expect(retried).toMatchObject({ duplicate: true, nextExpectedRevision: 1, position: 2 });
        expect((await store.readAll()).map((e) => [e.revision, e.position])).toEqual([
          [0, 1],
          [1, 2],
          [2, 3],
        ]);
        const { rows } = await older.sql.query<{ old: string | null }>(
          "SELECT to_regproc('truceline_append_group') AS old",
        );
        expect(rows).toEqual([{ old: null }]);
        await store.close();
      } finally {
        await older.cleanup();
      }
    });

    it('rejects a malformed append before it reaches the database', async () => {
      const twice = newEvent();
      const cases = [
        [{ ...newEvent(), id: 'not-a-uuid' }],
        [twice, twice],
        [{ ...newEvent(), occurredAt: 'yesterday' }],
        [{ ...newEvent(), data: undefined }],
      ];
      for (const events of cases) {
        await expect(
          sut.append(streamName('malformed'), events, { expectedRevision: 'any' }),
        ).rejects.toBeInstanceOf(ValidationError);
      }
    });

    if (engineName === 'PGlite') {
      it("reads with plain statements, not PostgreSQL's read functions, which cost PGlite more", async () => {
        const prepared = new Set<string>();
        const store = new SqlEventStore(recordingPrepared(engine.sql, prepared));
        try {
          await store.readStream(streamName('plain'));
          await store.readAll({ after: 0, limit: 1 });

          expect(prepared.size).toBe(2);
          expect([...prepared].filter((text) => text.includes('truceline_read'))).toEqual([]);
        } finally {
          await store.close();
        }
      });

      it('opens a new data directory with a small buffer cache: the wasm heap is never given back', async () => {
        const dataDir = await mkdtemp(join(tmpdir(), 'truceline-store-'));
        const sql = await openDatabase({ dataDir });
        try {
          const store = new SqlEventStore(sql);
          await store.init();
          const appended = await store.append(streamName('disk'), newEvents(1), {
            expectedRevision: 'no-stream',
          });
          expect(await store.readAll()).toEqual(appended.events);
          const { rows } = await sql.query<{ shared_buffers: string }>('SHOW shared_buffers');
          expect(rows).toEqual([{ shared_buffers: '16MB' }]);
        } finally {
          await sql.close();
          await rm(dataDir, { recursive: true, force: true });
        }
      });

      it('fails fast, instead of hanging, on a root-client statement inside a transaction', async () => {
        const attempt = engine.sql.transaction(async () => engine.sql.query('SELECT 1'));

        await expect(attempt).rejects.toThrow(/single connection/);
        expect((await engine.sql.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([
          { one: 1 },
        ]);
      });
    }

    if (engineName === 'PostgreSQL') {
      it('answers each append of a group alone when another process stores one of its ids first', async () => {
        // Another process's append holds an id in flight; a group of appends, one of them
        // carrying that id, queues behind it on the unique index and fails once it commits.
        const other = new Client({ connectionString: engine.url });
        await other.connect();
        const taken = newEvent();
        const burst = [newEvents(1), [taken], newEvents(2)];
        try {
          await other.query('BEGIN');
          await other.query(
            `INSERT INTO events (position, id, stream_id, revision, type, schema_version,
               occurred_at, recorded_at, data, metadata)
             VALUES (nextval('event_positions'), $1, $2, 0, 'Taken', 1, now(), now(), '{}', '{}')`,
            [taken.id, streamName('other-process')],
          );
          const grouped = new SqlEventStore(engine.sql, { appendConcurrency: 1 });
          const outcomes = burst.map((events) =>
            outcome(grouped.append(streamName('group'), events, { expectedRevision: 'no-stream' })),
          );
          await new Promise((resolve) => setTimeout(resolve, 100)); // the group waits on the index
          await other.query('COMMIT');
          const [first, second, third] = await Promise.all(outcomes);

          expect(first.ok && first.value.events.map((e) => e.id)).toEqual(
            burst[0].map((e) => e.id),
          );
          expect(!second.ok && second.error).toMatchObject({ code: 'idempotency-conflict' });
          expect(third.ok && third.value.events.map((e) => e.id)).toEqual(
            burst[2].map((e) => e.id),
          );
        } finally {
          await other.query('ROLLBACK').catch(() => undefined);
          await other.end();
        }
      });

      it('plans the statements it prepares, once for any parameters, along indexes even on a new database', async () => {
        const database = await createTestDatabase();
        const sql = await openDatabase({ databaseUrl: database.url });
        const prepared = new Set<string>();
        const store = new SqlEventStore(recordingPrepared(sql, prepared));
        try {
          await store.init();
          // A first start: autovacuum may analyze the log while it holds next to nothing.
          await sql.query('ANALYZE events');
          const appended = await store.append(streamName('plans'), newEvents(2), {
            expectedRevision: 'no-stream',
          });
          await store.readStream(appended.streamId);
          await store.readAll({ after: 0, limit: 10 });

          const plans = await sql.transaction(async (tx) => {
            const planned: string[] = [];
            for (const text of prepared) planned.push(await planForAnyParameters(tx, text));
            return planned;
          });

          // The append, the reads, and the NOTIFY once sent. The append and the reads are
          // functions: their own statements are planned once per connection, along indexes
          // whatever the statistics say, as their settings ask.
          const functions = [
            'truceline_append_columns',
            'truceline_read_log',
            'truceline_read_stream',
          ];
          for (const name of functions)
            expect([...prepared].some((text) => text.includes(`${name}(`))).toBe(true);
          for (const plan of plans) expect(plan).not.toMatch(/Seq Scan/);
          const { rows: settings } = await sql.query<{ name: string; config: string[] }>(
            'SELECT proname AS name, proconfig AS config FROM pg_proc WHERE proname = ANY($1)',
            [functions],
          );
          expect(settings.map((row) => row.name).sort()).toEqual([...functions].sort());
          for (const { config } of settings)
            expect(config).toEqual(
              expect.arrayContaining(['enable_seqscan=off', 'plan_cache_mode=force_generic_plan']),
            );
        } finally {
          await store.close();
          await sql.close();
          await database.drop();
        }
      });

      it('sends no row of the log past an append in flight, and the rows before it', async () => {
        // The server stops where the reader must: the rows committed after an append in flight
        // would only be dropped by the reader and read again later.
        const head = await sut.headPosition();
        const before = await sut.append(streamName('before'), newEvents(2), {
          expectedRevision: 'no-stream',
        });
        let inFlight!: () => void;
        const taken = new Promise<void>((resolve) => (inFlight = resolve));
        let release!: () => void;
        const held = sut.append(streamName('held'), newEvents(1), {
          expectedRevision: 'no-stream',
          beforeCommit: () => (inFlight(), new Promise<void>((resolve) => (release = resolve))),
        });
        try {
          await taken;
          const after = await sut.append(streamName('after'), newEvents(2), {
            expectedRevision: 'no-stream',
          });
          const read = (from: number) =>
            engine.sql.query<{ head: string; position: string | null }>(
              'SELECT head, position FROM truceline_read_log($1, NULL, 100)',
              [from],
            );

          expect((await read(head)).rows).toEqual(
            before.events.map((e) => ({
              head: String(after.position),
              position: String(e.position),
            })),
          );
          expect((await read(before.position)).rows).toEqual([
            { head: String(after.position), position: null },
          ]);
        } finally {
          release();
        }
        const appended = await held;
        expect((await sut.readAll({ after: before.position })).map((e) => e.position)).toEqual([
          appended.position,
          appended.position + 1,
          appended.position + 2,
        ]);
      });

      it('reads committed appends at once beside a transaction in flight that appends nothing', async () => {
        // A projection's or the sealer's transaction: it holds a transaction id, but no position.
        const other = new Client({ connectionString: engine.url });
        await other.connect();
        try {
          await other.query('BEGIN');
          await other.query('SELECT pg_current_xact_id()');
          const head = await sut.headPosition();
          const appended = await sut.append(streamName('beside'), newEvents(2), {
            expectedRevision: 'no-stream',
          });

          const read = await sut.readAll({ after: head, limit: 10 });

          expect(read).toEqual(appended.events);
        } finally {
          await other.query('ROLLBACK').catch(() => undefined);
          await other.end();
        }
      });

      it("wakes a subscriber at once on another process's append (LISTEN/NOTIFY)", async () => {
        const otherSql = await openDatabase({ databaseUrl: engine.url });
        const otherProcess = new SqlEventStore(otherSql);
        const handled: string[] = [];
        const subscriberId = `notify-${streamName('sub')}`;
        await sut.writeCheckpoint(subscriberId, await sut.headPosition());
        const subscription = await sut.subscribe(async (e) => void handled.push(e.id), {
          subscriberId,
          pollIntervalMs: 60_000,
        });
        try {
          await new Promise((resolve) => setTimeout(resolve, 100)); // let it go idle
          const appended = await otherProcess.append(streamName('notify'), newEvents(1), {
            expectedRevision: 'no-stream',
          });
          await subscription.waitFor(appended.position, 5_000);
          expect(handled).toEqual([appended.events[0].id]);
        } finally {
          await subscription.stop();
          await otherProcess.close();
          await otherSql.close();
        }
      });

      it('reads the tail for its own append once: its own NOTIFY, coming back, wakes nobody', async () => {
        let reads = 0;
        const counting: SqlClient = {
          engine: engine.sql.engine,
          query: (text, params, options) => {
            if (text.includes('truceline_read_log')) reads++;
            return engine.sql.query(text, params, options);
          },
          exec: (script) => engine.sql.exec(script),
          transaction: (fn) => engine.sql.transaction(fn),
          listen: (channel, onNotify) => engine.sql.listen!(channel, onNotify),
          close: async () => undefined,
        };
        const store = new SqlEventStore(counting);
        // A listener of the same channel on another client, as another process: it hears them.
        let heard = 0;
        const unlisten = await engine.sql.listen!('truceline_events', () => void heard++);
        const subscriberId = `echo-${streamName('sub')}`;
        await store.writeCheckpoint(subscriberId, await store.headPosition());
        const subscription = await store.subscribe(async () => undefined, {
          subscriberId,
          pollIntervalMs: 60_000,
        });
        try {
          await new Promise((resolve) => setTimeout(resolve, 100)); // let it go idle
          const before = reads;
          const appended = await store.append(streamName('echo'), newEvents(1), {
            expectedRevision: 'no-stream',
          });
          await subscription.waitFor(appended.position, 5_000);
          const until = Date.now() + 5_000;
          while (heard === 0 && Date.now() < until)
            await new Promise((resolve) => setTimeout(resolve, 10));
          await new Promise((resolve) => setTimeout(resolve, 200)); // the echo, had it woken
          expect(heard).toBeGreaterThan(0);
          // The page with the append, short, so the tail past it is known empty until a wake:
          // nothing more after the NOTIFY.
          expect(reads - before).toBe(1);
        } finally {
          await subscription.stop();
          await unlisten();
          await store.close();
        }
      });
    }
  });
});
