import { randomUUID } from 'node:crypto';
import { NewEvent } from '@truceline/domain';
import { openDatabase, SqlClient, SqlEventStore } from '@truceline/event-store';
import { appendInOrder, createTestDatabase, TestDatabase } from '@truceline/testing';
import { Ledger } from './ledger';
import { migrateLedger } from './ledger.schema';
import { generateSigningKey, parseSigningKey, parseVerifierKey } from './note/signing-key';
import { LogReport, verifyLog } from './verify-log';

/**
 * SPEC §10 acceptance: single tamperings made directly in PostgreSQL, as someone holding the
 * database's keys would make them (the append-only triggers switched off), are each detected by
 * verify, which names the position (or, for a checkpoint, its tree size). One database; each
 * tampering runs in a savepoint inside one transaction, is verified there, and is rolled back.
 */
const TAMPERINGS = 1_050;
const STREAMS = 6;
const EVENTS = 40;

/** A small deterministic PRNG (mulberry32), so a failure can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const event = (n: number): NewEvent => ({
  id: randomUUID(),
  type: n % 3 === 0 ? 'BreachReported' : 'VerificationRequested',
  occurredAt: new Date(Date.UTC(2026, 2, 2, 4, 0, n)).toISOString(),
  data: { n, text: `observation number ${n} near the line`, nested: { list: [n, 'x', true] } },
  metadata: {
    correlationId: randomUUID(),
    causationId: null,
    actor: { id: `operator-${n % 4}`, role: 'operator' },
    policyVersion: 1,
  },
});

/** What a tampering is expected to be reported as: a position, or a checkpoint's tree size. */
type Expected = { position: number } | { checkpoint: number };
type Tampering = (tx: SqlClient) => Promise<Expected>;

describe('verify against tampering in PostgreSQL', () => {
  let database: TestDatabase;
  let sql: SqlClient;
  const signer = parseSigningKey(generateSigningKey('truceline/tamper-spec'));
  const verifier = parseVerifierKey(signer.verifierKey);
  let positions: number[];
  let checkpointSizes: number[];

  beforeAll(async () => {
    database = await createTestDatabase();
    sql = await openDatabase({ databaseUrl: database.url });
    const store = new SqlEventStore(sql);
    const append = appendInOrder(store);
    await store.init();
    await migrateLedger(sql);
    const ledger = new Ledger(sql, store, signer);
    for (let n = 0; n < EVENTS; n++) {
      await append(`incident-s${n % STREAMS}`, [event(n)]);
      if (n % 7 === 6 || n === EVENTS - 1) await ledger.latest();
    }
    positions = (await store.readAll()).map((e) => e.position);
    checkpointSizes = (
      await sql.query<{ tree_size: string }>('SELECT tree_size FROM ledger_checkpoints ORDER BY 1')
    ).rows.map((r) => Number(r.tree_size));
  });
  afterAll(async () => {
    await sql.close();
    await database.drop();
  });

  it('holds untampered', async () => {
    const report = await verifyLog(sql, verifier);

    expect(report).toMatchObject({
      ok: true,
      events: EVENTS,
      sealed: EVENTS,
      checkpoints: checkpointSizes.length,
    });
  });

  it(`detects each of ${TAMPERINGS} random single tamperings and names where`, async () => {
    const random = prng(20260301);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
    const position = () => pick(positions);
    const leafOf = (p: number) => positions.indexOf(p);
    const lastPosition = positions[positions.length - 1];

    const tamperings: [string, Tampering][] = [
      [
        'a character of the data',
        async (tx) => {
          const p = position();
          const at = 1 + Math.floor(random() * 20);
          await tx.query(
            `UPDATE events SET data = jsonb_set(data, '{text}', to_jsonb(overlay(data->>'text' placing '#' from ${at} for 1))) WHERE position = $1`,
            [p],
          );
          return { position: p };
        },
      ],
      [
        'a number in the data',
        async (tx) => {
          const p = position();
          await tx.query(
            `UPDATE events SET data = jsonb_set(data, '{nested,list,0}', to_jsonb((data->'nested'->'list'->>0)::int + 1)) WHERE position = $1`,
            [p],
          );
          return { position: p };
        },
      ],
      [
        'the actor in the metadata',
        async (tx) => {
          const p = position();
          await tx.query(
            `UPDATE events SET metadata = jsonb_set(metadata, '{actor,id}', '"operator-9"') WHERE position = $1`,
            [p],
          );
          return { position: p };
        },
      ],
      [
        'the policy version in the metadata',
        async (tx) => {
          const p = position();
          await tx.query(
            `UPDATE events SET metadata = jsonb_set(metadata, '{policyVersion}', '2') WHERE position = $1`,
            [p],
          );
          return { position: p };
        },
      ],
      [
        'an envelope column',
        async (tx) => {
          const p = position();
          const change = pick([
            "type = 'BreachRejected'",
            "occurred_at = occurred_at + interval '1 millisecond'",
            "recorded_at = recorded_at - interval '1 hour'",
            'revision = revision + 1000',
            "stream_id = stream_id || 'x'",
            'id = gen_random_uuid()',
            'schema_version = 2',
          ]);
          await tx.query(`UPDATE events SET ${change} WHERE position = $1`, [p]);
          return { position: p };
        },
      ],
      [
        'a deleted event',
        async (tx) => {
          const p = position();
          await tx.query('DELETE FROM events WHERE position = $1', [p]);
          return { position: p };
        },
      ],
      [
        'two positions swapped',
        async (tx) => {
          const a = position();
          let b = position();
          while (b === a) b = position();
          await tx.query('UPDATE events SET position = -1 WHERE position = $1', [a]);
          await tx.query('UPDATE events SET position = $1 WHERE position = $2', [a, b]);
          await tx.query('UPDATE events SET position = $1 WHERE position = -1', [b]);
          return { position: Math.min(a, b) };
        },
      ],
      [
        'an event inserted into history',
        async (tx) => {
          const p = position();
          await tx.query('UPDATE events SET position = position + 1000000 WHERE position >= $1', [
            p,
          ]);
          await tx.query(
            'UPDATE events SET position = position - 999999 WHERE position >= 1000000',
          );
          // Dated back and stamped with an old transaction id, as a careful forger would.
          await tx.query(
            `INSERT INTO events (position, id, stream_id, revision, type, schema_version, occurred_at, recorded_at, data, metadata, transaction_id)
           SELECT $1::bigint, gen_random_uuid(), stream_id, revision + 500, type, schema_version, occurred_at, recorded_at, data, metadata, '0'
             FROM events WHERE position = $1::bigint + 1`,
            [p],
          );
          return { position: p };
        },
      ],
      [
        'a leaf hash',
        async (tx) => {
          const p = position();
          const byte = Math.floor(random() * 32);
          await tx.query(
            `UPDATE ledger_leaf_runs
                SET leaf_hashes = set_byte(leaf_hashes, at, get_byte(leaf_hashes, at) # 1)
               FROM (SELECT first_leaf AS run, (($1::int - first_leaf) * 32 + $2::int)::int AS at
                       FROM ledger_leaf_runs WHERE first_leaf <= $1 ORDER BY first_leaf DESC LIMIT 1) r
              WHERE first_leaf = r.run`,
            [leafOf(p), byte],
          );
          return { position: p };
        },
      ],
      [
        'the position of a leaf',
        async (tx) => {
          const p = position();
          // Moved onto its neighbour's position (unless that starts a run: the index refuses
          // two runs starting at one position) or past the end of the log.
          const { rows } = await tx.query(
            'SELECT 1 FROM ledger_leaf_runs WHERE positions[1] = $1::bigint - 1',
            [p],
          );
          const moved = p > positions[0] && rows.length === 0 && random() < 0.5 ? p - 1 : p + 1000;
          await tx.query(
            `UPDATE ledger_leaf_runs SET positions[array_position(positions, $1::bigint)] = $2
              WHERE $1::bigint = ANY(positions)`,
            [p, moved],
          );
          return { position: Math.min(p, moved) };
        },
      ],
      [
        'a deleted leaf',
        async (tx) => {
          const p = position();
          // Cut out of its run, or the run deleted when it held only this leaf.
          await tx.query('DELETE FROM ledger_leaf_runs WHERE positions = ARRAY[$1::bigint]', [p]);
          await tx.query(
            `UPDATE ledger_leaf_runs
                SET positions = positions[:k - 1] || positions[k + 1:],
                    leaf_hashes = overlay(leaf_hashes PLACING ''::bytea FROM (k - 1) * 32 + 1 FOR 32)
               FROM (SELECT first_leaf AS run, array_position(positions, $1::bigint) AS k
                       FROM ledger_leaf_runs WHERE $1::bigint = ANY(positions)) r
              WHERE first_leaf = r.run`,
            [p],
          );
          return { position: p };
        },
      ],
      [
        'a leaf added for an event that does not exist',
        async (tx) => {
          await tx.query(
            `INSERT INTO ledger_leaf_runs (first_leaf, positions, leaf_hashes)
             VALUES ($1, ARRAY[$2::bigint], decode(repeat('ab', 32), 'hex'))`,
            [positions.length, lastPosition + 1],
          );
          return { position: lastPosition + 1 };
        },
      ],
      [
        'a byte of a checkpoint note',
        async (tx) => {
          const size = pick(checkpointSizes);
          const { rows } = await tx.query<{ note: string }>(
            'SELECT note FROM ledger_checkpoints WHERE tree_size = $1',
            [size],
          );
          const note = rows[0].note;
          const at = Math.floor(random() * (note.length - 1));
          const replaced = note[at] === 'A' ? 'B' : note[at] === '\n' ? '\r' : 'A';
          await tx.query('UPDATE ledger_checkpoints SET note = $2 WHERE tree_size = $1', [
            size,
            note.slice(0, at) + replaced + note.slice(at + 1),
          ]);
          return { checkpoint: size };
        },
      ],
      [
        "a checkpoint's stored root",
        async (tx) => {
          const size = pick(checkpointSizes);
          await tx.query(
            'UPDATE ledger_checkpoints SET root_hash = set_byte(root_hash, 0, get_byte(root_hash, 0) # 128) WHERE tree_size = $1',
            [size],
          );
          return { checkpoint: size };
        },
      ],
      [
        "a checkpoint's tree size",
        async (tx) => {
          const size = pick(checkpointSizes);
          await tx.query(
            'UPDATE ledger_checkpoints SET tree_size = tree_size + 100 WHERE tree_size = $1',
            [size],
          );
          return { checkpoint: size + 100 };
        },
      ],
    ];

    const missed: string[] = [];
    const counts = new Map<string, number>();
    await sql.transaction(async (tx) => {
      // What an attacker with the database's keys does first.
      await tx.exec(
        'ALTER TABLE ledger_leaf_runs DISABLE TRIGGER USER; ALTER TABLE ledger_checkpoints DISABLE TRIGGER USER',
      );
      for (let i = 0; i < TAMPERINGS; i++) {
        const [label, tamper] = tamperings[i % tamperings.length];
        let report: LogReport | undefined;
        let expected: Expected | undefined;
        await tx
          .transaction(async (savepoint) => {
            expected = await tamper(savepoint);
            report = await verifyLog(savepoint, verifier);
            throw ROLLBACK;
          })
          .catch((error: unknown) => {
            if (error !== ROLLBACK) throw error;
          });
        counts.set(label, (counts.get(label) ?? 0) + 1);
        const named =
          report &&
          !report.ok &&
          expected &&
          ('position' in expected
            ? report.firstBadPosition === expected.position
            : report.problems.some(
                (p) => p.checkpoint === (expected as { checkpoint: number }).checkpoint,
              ));
        if (!named)
          missed.push(
            `#${i} ${label}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(report?.problems)}`,
          );
      }
    });

    expect(missed).toEqual([]);
    expect([...counts.values()].reduce((a, b) => a + b)).toBe(TAMPERINGS);
    expect(await verifyLog(sql, verifier)).toMatchObject({ ok: true });
  });
});

const ROLLBACK = Symbol('roll back the tampering');
