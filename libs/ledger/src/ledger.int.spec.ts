import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { NewEvent } from '@truceline/domain';
import { migrate, openDatabase, SqlClient, SqlEventStore } from '@truceline/event-store';
import { appendInOrder, createTestDatabase, TestDatabase } from '@truceline/testing';
import { Ledger } from './ledger';
import { LedgerRepository } from './ledger.repository';
import { LEDGER_MIGRATIONS, migrateLedger } from './ledger.schema';
import { CompactRange } from './merkle/compact-range';
import { ProofError, verifyConsistency, verifyInclusion } from './merkle/verify';
import { parseCheckpoint } from './note/checkpoint';
import { openNote } from './note/signed-note';
import { generateSigningKey, parseSigningKey, parseVerifierKey } from './note/signing-key';
import { leafHashOf } from './leaf';
import { verifyLog } from './verify-log';

const event = (n: number): NewEvent => ({
  id: randomUUID(),
  type: 'LedgerTested',
  occurredAt: '2026-03-02T04:00:00.000Z',
  data: { n, text: `event ${n} — ✓` },
  metadata: {
    correlationId: randomUUID(),
    causationId: null,
    actor: { id: 'ledger-spec', role: 'service' },
    policyVersion: 1,
  },
});

const fromB64 = (s: string) => Buffer.from(s, 'base64');

describe.each([
  ['PGlite', false],
  ['PostgreSQL', true],
])('%s: Ledger', (_engine, postgres) => {
  let database: TestDatabase | undefined;
  let sql: SqlClient;
  let store: SqlEventStore;
  const signer = parseSigningKey(generateSigningKey('truceline/ledger-spec'));
  const verifier = parseVerifierKey(signer.verifierKey);
  let sut: Ledger;
  let append: ReturnType<typeof appendInOrder>;

  beforeAll(async () => {
    database = postgres ? await createTestDatabase() : undefined;
    sql = await openDatabase(database ? { databaseUrl: database.url } : { inMemory: true });
    store = new SqlEventStore(sql);
    append = appendInOrder(store);
    await store.init();
    await migrateLedger(sql);
    sut = new Ledger(sql, store, signer, { pollIntervalMs: 20, checkpointIntervalMs: 60_000 });
  });
  afterAll(async () => {
    await sut.sealer.stop();
    await store.close();
    await sql.close();
    await database?.drop();
  });

  it('seals what was appended, signs a checkpoint on demand, and proves each event in it', async () => {
    const appended = [];
    for (let i = 0; i < 5; i++) {
      appended.push(...(await append(`s-${i % 2}`, [event(i), event(i + 100)])).events);
    }

    const first = await sut.latest();

    expect(first).not.toBeNull();
    const text = openNote(first!.checkpoint, verifier);
    expect(parseCheckpoint(text)).toEqual({
      origin: 'truceline/ledger-spec',
      treeSize: 10,
      rootHash: fromB64(first!.rootHash),
    });
    expect(first!.verifierKey).toBe(signer.verifierKey);
    const proof = await sut.prove(appended.slice(2, 6));
    expect(proof!.checkpoint).toEqual(first);
    for (const { event: e, leafIndex, leafHash, inclusionProof } of proof!.proofs) {
      expect(fromB64(leafHash)).toEqual(leafHashOf(e));
      verifyInclusion(
        leafIndex,
        10,
        leafHashOf(e),
        inclusionProof.map(fromB64),
        fromB64(first!.rootHash),
      );
    }
    expect(proof!.proofs.map((p) => p.leafIndex)).toEqual([2, 3, 4, 5]);
  });

  it('keeps every checkpoint consistent with the ones before, and verifies', async () => {
    const before = (await sut.latest())!;
    await append('s-2', [event(7), event(8), event(9)]);
    const after = (await sut.latest())!;

    const proof = await sut.consistency(before.treeSize, after.treeSize);

    expect(after.treeSize).toBe(before.treeSize + 3);
    verifyConsistency(
      before.treeSize,
      after.treeSize,
      fromB64(before.rootHash),
      fromB64(after.rootHash),
      proof.map(fromB64),
    );
    expect(() =>
      verifyConsistency(
        before.treeSize,
        after.treeSize,
        fromB64(after.rootHash),
        fromB64(after.rootHash),
        proof.map(fromB64),
      ),
    ).toThrow(ProofError);
    const report = await verifyLog(sql, verifier);
    expect(report).toMatchObject({
      ok: true,
      events: 13,
      sealed: 13,
      unsealed: 0,
      checkpoints: 2,
      problems: [],
    });
    await expect(sut.consistency(5, 99)).rejects.toMatchObject({ code: 'validation' });
  });

  it('signs by itself while events arrive, and never twice for one tree size', async () => {
    const quick = new Ledger(sql, store, signer, { pollIntervalMs: 10, checkpointIntervalMs: 50 });
    quick.sealer.start();
    try {
      const { position } = await append('s-3', [event(1)]);
      const signedSize = async () => {
        const { rows } = await sql.query<{ n: string }>(
          'SELECT max(tree_size) AS n FROM ledger_checkpoints',
        );
        return Number(rows[0].n);
      };
      for (const deadline = Date.now() + 5_000; Date.now() < deadline;) {
        if ((await signedSize()) >= position) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(await signedSize()).toBe(position);
    } finally {
      await quick.sealer.stop();
    }
  });

  it('seals a steady stream of appends a poll at a time, not a statement per append, and signs meanwhile', async () => {
    // What the sealer sends of its own (it reads the log through the store): a statement per
    // batch stored, a transaction per checkpoint.
    let transactions = 0;
    const counted: SqlClient = {
      engine: sql.engine,
      query: <T>(text: string, params?: unknown[]) => {
        transactions++;
        return sql.query<T>(text, params);
      },
      exec: (script: string) => sql.exec(script),
      transaction: <T>(work: (tx: SqlClient) => Promise<T>) => {
        transactions++;
        return sql.transaction(work);
      },
      close: () => Promise.resolve(),
    };
    const polling = new Ledger(counted, store, signer, {
      pollIntervalMs: 100,
      checkpointIntervalMs: 300,
    });
    const signedBefore = (
      await sql.query<{ n: string }>('SELECT count(*) AS n FROM ledger_checkpoints')
    ).rows[0].n;
    polling.sealer.start();
    let appended = 0;
    const started = Date.now();
    try {
      // At least a second and at least 60 appends: a loaded machine stretches the time, not the count.
      for (; Date.now() < started + 1_000 || appended < 60; appended++) {
        await append('s-4', [event(appended)]);
        await new Promise((r) => setTimeout(r, 2));
      }
    } finally {
      await polling.sealer.stop();
    }
    const signed = (await sql.query<{ n: string }>('SELECT count(*) AS n FROM ledger_checkpoints'))
      .rows[0].n;

    // About one sealing statement per poll (ten a second) plus the checkpoints, however long the
    // appends took; sealing a few events per transaction took twice that.
    const seconds = (Date.now() - started) / 1_000;
    expect(transactions).toBeLessThan(25 * seconds);
    expect(Number(signed)).toBeGreaterThan(Number(signedBefore));
  });

  it('refuses to rewrite leaves or checkpoints through ordinary statements', async () => {
    await expect(sql.query('UPDATE ledger_leaf_runs SET positions = positions')).rejects.toThrow(
      /append-only/,
    );
    await expect(sql.query('DELETE FROM ledger_checkpoints')).rejects.toThrow(/append-only/);
  });

  it('answers a tree size no checkpoint has with a validation error', async () => {
    await expect(sut.prove([], 3)).rejects.toMatchObject({ code: 'validation' });
  });
});

describe('PostgreSQL: sealing beside concurrent writers', () => {
  let database: TestDatabase;
  let sql: SqlClient;
  // One key for the whole log these tests share: verify checks every checkpoint in it.
  const signer = parseSigningKey(generateSigningKey('truceline/ledger-race'));

  beforeAll(async () => {
    database = await createTestDatabase();
    sql = await openDatabase({ databaseUrl: database.url, poolSize: 12 });
    const store = new SqlEventStore(sql);
    await store.init();
    await migrateLedger(sql);
  });
  afterAll(async () => {
    await sql.close();
    await database.drop();
  });

  it.each([
    ["on the appends' thread", [false, false]],
    ["one on a sealing thread, one on the appends' thread", [true, false]],
  ])(
    'two sealers (%s) and eight writers: one tree of every event in position order',
    async (_, threads) => {
      const store = new SqlEventStore(sql);
      const sealers = threads.map(
        (thread) =>
          new Ledger(sql, store, signer, {
            pollIntervalMs: 5,
            checkpointIntervalMs: 30,
            batchSize: 7,
            sealingThread: thread ? { databaseUrl: database.url } : undefined,
          }),
      );
      sealers.forEach((s) => s.sealer.start());
      await Promise.all(
        Array.from({ length: 8 }, async (_, w) => {
          for (let i = 0; i < 15; i++) {
            await store.append(`w-${w}-${threads.join('-')}`, [event(i)], {
              // Each writer is its stream's only one: its i-th append finds revision i - 1.
              expectedRevision: i === 0 ? 'no-stream' : i - 1,
              // Holds some writers in flight while later ones could commit: none may be skipped.
              beforeCommit: i % 5 === 0 ? () => new Promise((r) => setTimeout(r, 15)) : undefined,
            });
          }
        }),
      );
      await Promise.all(sealers.map((s) => s.latest()));
      await Promise.all(sealers.map((s) => s.sealer.stop()));

      const report = await verifyLog(sql, parseVerifierKey(signer.verifierKey));

      const events = Number(
        (await sql.query<{ n: string }>('SELECT count(*) AS n FROM events')).rows[0].n,
      );
      expect(report).toMatchObject({ ok: true, events, sealed: events, unsealed: 0, problems: [] });
      expect(report.checkpoints).toBeGreaterThanOrEqual(1);
    },
  );

  it("seals on a thread of its own at nice 19, leaves the appends' thread as it was, ends it on stop", async () => {
    const store = new SqlEventStore(sql);
    const ledger = new Ledger(sql, store, signer, {
      pollIntervalMs: 10,
      checkpointIntervalMs: 50,
      sealingThread: { databaseUrl: database.url },
    });
    const niceOf = (stat: string) => Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    const ownNice = niceOf(readFileSync('/proc/thread-self/stat', 'utf8'));
    ledger.sealer.start();
    let threadId: number | null = null;
    try {
      const thread = await ledger.sealer.sealingThread();
      threadId = thread!.threadId!;
      expect(thread!.nice).toBe(19);
      expect(niceOf(readFileSync(`/proc/self/task/${threadId}/stat`, 'utf8'))).toBe(19);
      expect(niceOf(readFileSync('/proc/thread-self/stat', 'utf8'))).toBe(ownNice);
      await store.append(`thread-${randomUUID()}`, [event(1), event(2)], {
        expectedRevision: 'no-stream',
      });
      const head = await store.headPosition();
      const repository = new LedgerRepository(sql);
      // Sealed and signed by the running sealer alone: nothing here seals on demand.
      const signed = async () => (await repository.latestCheckpoint())?.treeSize ?? 0;
      for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
        if ((await signed()) >= head) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(await signed()).toBe(head);
    } finally {
      await ledger.sealer.stop();
    }
    expect(existsSync(`/proc/self/task/${threadId}`)).toBe(false);
    expect(await ledger.sealer.sealingThread()).toBeNull();
    expect(await verifyLog(sql, parseVerifierKey(signer.verifierKey))).toMatchObject({ ok: true });
  });
});

describe('PostgreSQL: leaves sealed one row each before runs', () => {
  it('become runs by the migration, verify, and the tree grows on from them', async () => {
    const database = await createTestDatabase();
    const sql = await openDatabase({ databaseUrl: database.url });
    const store = new SqlEventStore(sql);
    const signer = parseSigningKey(generateSigningKey('truceline/ledger-migration'));
    const verifier = parseVerifierKey(signer.verifierKey);
    try {
      await store.init();
      await migrate(sql, 'ledger', LEDGER_MIGRATIONS.slice(0, 1));
      const append = appendInOrder(store);
      for (let i = 0; i < 3; i++) {
        await append(
          `s-${i}`,
          Array.from({ length: 100 }, (_, j) => event(i * 100 + j)),
        );
      }
      // Sealed as the sealer did before runs: one row per leaf.
      const events = await store.readAll();
      const range = CompactRange.empty();
      const hashes = events.map(leafHashOf);
      hashes.forEach((hash) => range.append(hash));
      await sql.query(
        `INSERT INTO ledger_leaves (leaf_index, position, leaf_hash)
         SELECT i - 1, p, decode(h, 'hex') FROM unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS t(p, h, i)`,
        [events.map((e) => e.position), hashes.map((hash) => hash.toString('hex'))],
      );
      await new LedgerRepository(sql).saveState(range);

      await migrateLedger(sql);

      const { rows } = await sql.query<{ leaves: number }>(
        'SELECT cardinality(positions) AS leaves FROM ledger_leaf_runs ORDER BY first_leaf',
      );
      expect(rows.map((r) => Number(r.leaves))).toEqual([256, 44]);
      const ledger = new Ledger(sql, store, signer);
      const before = (await ledger.latest())!;
      expect(fromB64(before.rootHash)).toEqual(range.root());
      await append('s-0', [event(300), event(301)]);
      const after = (await ledger.latest())!;
      verifyConsistency(
        300,
        302,
        fromB64(before.rootHash),
        fromB64(after.rootHash),
        (await ledger.consistency(300, 302)).map(fromB64),
      );
      const proof = (await ledger.prove([events[0], events[255], events[256], events[299]]))!;
      expect(proof.proofs.map((p) => p.leafIndex)).toEqual([0, 255, 256, 299]);
      for (const { event: e, leafIndex, inclusionProof } of proof.proofs) {
        verifyInclusion(
          leafIndex,
          302,
          leafHashOf(e),
          inclusionProof.map(fromB64),
          fromB64(after.rootHash),
        );
      }
      expect(await verifyLog(sql, verifier)).toMatchObject({
        ok: true,
        events: 302,
        sealed: 302,
        checkpoints: 2,
      });
    } finally {
      await store.close();
      await sql.close();
      await database.drop();
    }
  });
});
