import { createTestDatabase } from '@truceline/testing';
import { openDatabase } from './open-database';
import { CopyRows, SqlClient } from './sql-client';

describe('PgSqlClient.copyFrom', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let sql: SqlClient;
  type Field = string | number | boolean | null;
  const copyRows = (...list: Field[][]) =>
    list.reduce((rows, row) => rows.row(...row), new CopyRows()).bytes();

  beforeAll(async () => {
    database = await createTestDatabase();
    sql = await openDatabase({ databaseUrl: database.url, poolSize: 2 });
    await sql.exec(
      'CREATE TABLE copied (id int PRIMARY KEY, note text, at timestamptz, ok boolean)',
    );
  });
  afterAll(async () => {
    await sql.close();
    await database.drop();
  });
  beforeEach(() => sql.exec('TRUNCATE copied'));

  const copy = (tx: SqlClient, rows: Buffer) =>
    (tx.copyFrom as NonNullable<SqlClient['copyFrom']>)(
      'COPY copied (id, note, at, ok) FROM STDIN',
      rows,
    );

  it('stores every field as given: tabs, line breaks, backslashes, nulls and long UTF-8 included', async () => {
    const notes = ['plain', 'a\tb', 'line\nbreak\r\n', 'back\\slash \\N', '{"k":"\\"q\\""}', null];
    // Past the buffer's first size, in characters of two and three bytes.
    notes.push(`${'é'.repeat(40_000)}€`);
    await sql.transaction((tx) =>
      copy(
        tx,
        copyRows(...notes.map((note, i) => [i, note, '2026-03-02T01:00:00.000Z', i % 2 === 0])),
      ),
    );
    const { rows } = await sql.query<{ id: number; note: string | null; at: Date; ok: boolean }>(
      'SELECT id, note, at, ok FROM copied ORDER BY id',
    );
    expect(rows.map((r) => r.note)).toEqual(notes);
    expect(rows.map((r) => r.ok)).toEqual([true, false, true, false, true, false, true]);
    expect(rows.every((r) => r.at.toISOString() === '2026-03-02T01:00:00.000Z')).toBe(true);
  });

  it("rejects with the server's error, rolls the transaction back, and the pool goes on", async () => {
    const failed = sql.transaction(async (tx) => {
      await tx.query("INSERT INTO copied (id, note, ok) VALUES (100, 'before', true)");
      await copy(tx, copyRows([1, 'x', null, true], [1, 'duplicate', null, true]));
    });
    await expect(failed).rejects.toMatchObject({ code: '23505' });
    await expect(
      sql.transaction((tx) => copy(tx, copyRows([2, 'bad', 'not a date', true]))),
    ).rejects.toMatchObject({ code: '22007' });
    expect((await sql.query('SELECT id FROM copied')).rows).toEqual([]);
    await sql.copyFrom?.(
      'COPY copied (id, note, at, ok) FROM STDIN',
      copyRows([3, 'after', null, false]),
    );
    expect((await sql.query('SELECT id, note FROM copied')).rows).toEqual([
      { id: 3, note: 'after' },
    ]);
  });
});
